"""Load with the official ``langgraph-sdk`` client: the same code against either server.

Closed loops: each simulated client starts its next run when its last one ended, for a fixed
time; only runs inside the measured window count (after a warm-up). A burst creates N
background runs at once and waits until every one has ended. Everything is bounded in count
and time, and talks to loopback addresses only.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient

from benchmarks.report import Latencies, Measurement

logger = logging.getLogger(__name__)

INPUT = {"value": 1}
EXPECTED = {"trivial": {"value": 3}, "sleepy": {"value": 2}}
"""What each graph returns for ``INPUT``: anything else counts as an error."""

STRAGGLER_SECONDS = 30.0
"""How long runs started inside the window may take to end once it closes."""


def make_clients(url: str, count: int = 8, connections: int = 64) -> list[LangGraphClient]:
    """Simulated clients share these round-robin. httpx's connection pool costs time in the
    number of connections it holds for every request, so a few small pools keep the load
    generator's CPU per run flat from 1 to 64 clients."""
    return [make_client(url, connections) for _ in range(count)]


def make_client(url: str, connections: int = 64) -> LangGraphClient:
    """The SDK's client, with a connection pool big enough for its share of the concurrency
    (its default keeps 20 connections alive, so it would keep reconnecting) and no proxies."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"benchmarks only talk to loopback servers, not {url}")
    transport = httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=connections,
            max_keepalive_connections=connections,
            # Below uvicorn's 5 s keep-alive (both servers run it): a request must never go
            # out on a connection the server is closing at that moment (a spurious ReadError).
            keepalive_expiry=2.0,
        )
    )
    http = httpx.AsyncClient(
        base_url=url,
        transport=transport,
        trust_env=False,
        timeout=httpx.Timeout(connect=5, read=120, write=120, pool=120),
    )
    return LangGraphClient(http)


@dataclass(frozen=True)
class Sample:
    started: float
    ended: float
    ok: bool
    first_event: float | None = None
    first_values: float | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started


RunCall = Callable[[LangGraphClient, str, str], Awaitable[Sample]]

_reported = itertools.count()
_REPORT_AT_MOST = 20


def failed(started: float, why: object) -> Sample:
    """A failed run, logged (the first few of them) so that a report's errors can be told."""
    if next(_reported) < _REPORT_AT_MOST:
        logger.warning("run failed: %s", why if isinstance(why, str) else repr(why)[:300])
    return Sample(started, time.perf_counter(), ok=False)


def checked(started: float, result: Any, graph: str) -> Sample:
    if result != EXPECTED[graph]:
        return failed(started, f"unexpected result {str(result)[:300]}")
    return Sample(started, time.perf_counter(), ok=True)


async def one_wait(client: LangGraphClient, thread_id: str, graph: str) -> Sample:
    started = time.perf_counter()
    try:
        result: Any = await client.runs.wait(thread_id, graph, input=INPUT)
    except (httpx.HTTPError, ValueError) as exc:
        return failed(started, exc)
    return checked(started, result, graph)


async def one_stream(client: LangGraphClient, thread_id: str, graph: str) -> Sample:
    started = time.perf_counter()
    first_event: float | None = None
    first_values: float | None = None
    last_values: Any = None
    try:
        async for part in client.runs.stream(thread_id, graph, input=INPUT, stream_mode="values"):
            now = time.perf_counter()
            if first_event is None:
                first_event = now - started
            if part.event == "values":
                last_values = part.data
                if first_values is None:
                    first_values = now - started
    except (httpx.HTTPError, ValueError) as exc:
        return failed(started, exc)
    if last_values != EXPECTED[graph]:
        return failed(started, f"stream ended with {str(last_values)[:300]}")
    return Sample(started, time.perf_counter(), True, first_event, first_values)


async def make_threads(client: LangGraphClient, count: int, parallel: int = 32) -> list[str]:
    gate = asyncio.Semaphore(parallel)

    async def one() -> str:
        async with gate:
            thread = await client.threads.create()
            return str(thread["thread_id"])

    return list(await asyncio.gather(*(one() for _ in range(count))))


@dataclass(frozen=True)
class Window:
    warmup: float
    seconds: float


async def closed_loop(
    clients: Sequence[LangGraphClient],
    call: RunCall,
    graph: str,
    threads: Sequence[str],
    window: Window,
) -> Measurement:
    """``len(threads)`` clients, one thread each, for ``window`` (after its warm-up)."""
    loop_start = time.perf_counter()
    opens = loop_start + window.warmup
    closes = opens + window.seconds
    samples: list[Sample] = []

    async def client_loop(client: LangGraphClient, thread_id: str) -> None:
        while time.perf_counter() < closes:
            samples.append(await call(client, thread_id, graph))

    cpu_before = time.process_time()
    tasks = [
        asyncio.create_task(client_loop(clients[i % len(clients)], thread_id))
        for i, thread_id in enumerate(threads)
    ]
    await asyncio.sleep(max(0.0, closes - time.perf_counter()))
    _, late = await asyncio.wait(tasks, timeout=STRAGGLER_SECONDS)
    for task in late:
        task.cancel()
    cpu = time.process_time() - cpu_before
    inside = [s for s in samples if opens <= s.started and s.ended <= closes]
    done = [s for s in samples if opens <= s.ended <= closes]
    good = [s for s in inside if s.ok]
    return Measurement(
        runs=sum(1 for s in done if s.ok),
        errors=sum(1 for s in samples if not s.ok) + len(late),
        seconds=window.seconds,
        latency=Latencies.of([s.seconds for s in good]),
        first_event=_optional([s.first_event for s in good]),
        first_values=_optional([s.first_values for s in good]),
        client_cpu_seconds=cpu * window.seconds / (time.perf_counter() - loop_start),
    )


def _optional(values: Sequence[float | None]) -> Latencies | None:
    present = [v for v in values if v is not None]
    return Latencies.of(present) if present else None


async def burst(
    clients: Sequence[LangGraphClient],
    graph: str,
    threads: Sequence[str],
    parallel: int = 64,
    joins: int = 200,
) -> Measurement:
    """A background run on each thread, created at once (``parallel`` requests in flight),
    then joined (``joins`` at a time): runs per second from the first create until the last
    run was seen ended."""
    gate = asyncio.Semaphore(parallel)
    join_gate = asyncio.Semaphore(joins)
    started = time.perf_counter()
    cpu_before = time.process_time()

    async def create(client: LangGraphClient, thread_id: str) -> str | None:
        async with gate:
            try:
                run = await client.runs.create(thread_id, graph, input=INPUT)
            except httpx.HTTPError as exc:
                failed(started, exc)
                return None
            return str(run["run_id"])

    def client_of(index: int) -> LangGraphClient:
        return clients[index % len(clients)]

    run_ids = await asyncio.gather(*(create(client_of(i), t) for i, t in enumerate(threads)))

    async def join(client: LangGraphClient, thread_id: str, run_id: str | None) -> Sample:
        if run_id is None:
            return failed(started, "not created")
        async with join_gate:
            try:
                result: Any = await client.runs.join(thread_id, run_id)
            except httpx.HTTPError as exc:
                return failed(started, exc)
        return checked(started, result, graph)

    samples = await asyncio.wait_for(
        asyncio.gather(
            *(
                join(client_of(i), t, r)
                for i, (t, r) in enumerate(zip(threads, run_ids, strict=True))
            )
        ),
        timeout=STRAGGLER_SECONDS * 4,
    )
    elapsed = max(s.ended for s in samples) - started
    good = [s for s in samples if s.ok]
    return Measurement(
        runs=len(good),
        errors=len(samples) - len(good),
        seconds=elapsed,
        latency=Latencies.of([s.seconds for s in good]),
        client_cpu_seconds=time.process_time() - cpu_before,
    )
