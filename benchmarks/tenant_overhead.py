"""What naming the tenant costs a single read: the API's ``GET /threads/{id}`` statement on the
pool, as the API ran it before row-level security, against the same statement in a transaction
that names its tenant (``agentlist.api.db.tenancy.TenantReads``: ``BEGIN`` with ``set_config``
in one simple query, the read, ``COMMIT``), as the API's role.

``.venv/bin/python benchmarks/tenant_overhead.py [--count 5000] [--rounds 3] [--in-flight 16]``

Starts a loopback Postgres through the launcher and reads from this process: the figures are
this process's CPU per read (the driver's side, what the API spends) and the reads' latency.
The two ways alternate for several rounds; the medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentlist.api.db import threads
from agentlist.api.db.tenancy import TenantReads
from agentlist.db.pool import create_pool
from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.identities import postgres_url_as

TENANT = "bench"
WARMUP = 500


@dataclass(frozen=True)
class Trial:
    cpu_us: float
    reads_per_second: float
    p50_ms: float


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _trial(read: Callable[[], Awaitable[None]], count: int, in_flight: int) -> Trial:
    gate = asyncio.Semaphore(in_flight)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            await read()
            latencies.append(time.perf_counter() - started)

    cpu, wall = _cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    cpu, wall = _cpu_seconds() - cpu, time.perf_counter() - wall
    return Trial(cpu / count * 1e6, count / wall, statistics.median(latencies) * 1e3)


async def _measure(stack: Stack, count: int, rounds: int, in_flight: int) -> None:
    assert stack.identities is not None
    await asyncio.to_thread(stack.migrate)
    owner = await create_pool(stack.database_url, max_size=in_flight)
    api = await create_pool(
        postgres_url_as(stack.identities, stack.database_url, "api"), max_size=in_flight
    )
    try:
        thread_id = uuid.uuid4()
        await owner.execute(
            "INSERT INTO threads (thread_id, tenant_id) VALUES ($1, $2)", thread_id, TENANT
        )
        as_tenant = TenantReads(api, TENANT)

        async def on_pool() -> None:
            assert await threads.get(owner, TENANT, thread_id) is not None

        async def named_tenant() -> None:
            assert await threads.get(as_tenant, TENANT, thread_id) is not None

        ways = {"pool read (before)": on_pool, "tenant transaction": named_tenant}
        for read in ways.values():
            await _trial(read, WARMUP, in_flight)
        trials: dict[str, list[Trial]] = {name: [] for name in ways}
        for _ in range(rounds):
            for name, read in ways.items():
                trials[name].append(await _trial(read, count, in_flight))
        print(f"one read of a thread by id: {count} reads x {rounds} rounds, {in_flight} in flight")
        print(f"{'way':<22} {'µs CPU/read':>12} {'reads/s':>9} {'p50 ms':>8}")
        for name, done in trials.items():
            cpu = statistics.median(t.cpu_us for t in done)
            rate = statistics.median(t.reads_per_second for t in done)
            p50 = statistics.median(t.p50_ms for t in done)
            print(f"{name:<22} {cpu:>12.0f} {rate:>9.0f} {p50:>8.2f}")
    finally:
        await api.close()
        await owner.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000, help="reads per trial")
    parser.add_argument("--rounds", type=int, default=3, help="trials of each way")
    parser.add_argument("--in-flight", type=int, default=16, help="concurrent reads")
    args = parser.parse_args()
    stack = Stack(StackOptions(api_port=0))
    try:
        stack.start_servers()
        asyncio.run(_measure(stack, args.count, args.rounds, args.in_flight))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
