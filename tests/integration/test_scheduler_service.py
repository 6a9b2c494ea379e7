"""The scheduler service in-process against real NATS and Postgres, with fake workers.

A fake worker is a raw nats-py subscription on its dispatch subject; "heartbeats" are the
test bumping ``workers.last_heartbeat_at`` (no registry runs here, so no lease is renewed).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import nats
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg
from serverkit import migrated_pool, own_database
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.events import RUN_MESSAGE, AttemptStarted, RunEvent, RunOutcome
from agentlist.contracts.runs import DispatchReply, RunDispatch, RunKwargs
from agentlist.launcher import Stack
from agentlist.scheduler.leases import FINISHER_ID
from agentlist.scheduler.service import serve
from agentlist.scheduler.settings import SchedulerSettings

KWARGS = RunKwargs(input={"messages": [{"role": "user", "content": "hi"}]})


@pytest_asyncio.fixture(scope="module")
async def dsn(servers: Stack) -> AsyncIterator[str]:
    async with own_database(servers.database_url, "sched") as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(dsn, max_size=4) as pool:
        yield pool


@pytest_asyncio.fixture(autouse=True)
async def empty(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE runs, threads, workers CASCADE")


@pytest_asyncio.fixture
async def nc(servers: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(servers.nats_url)
    yield client
    await client.drain()


def settings(servers: Stack, dsn: str, **overrides: Any) -> SchedulerSettings:
    values: dict[str, Any] = {
        "NATS_URL": servers.nats_url,
        "DATABASE_URL": dsn,
        "heartbeat_interval": 0.5,
        "lease_seconds": 1.0,
        "poll_interval": 0.2,
        "lease_sweep_interval": 0.1,
        "dispatch_timeout": 0.5,
        "max_attempts": 2,
    }
    return SchedulerSettings.model_validate(values | overrides)


@contextlib.asynccontextmanager
async def scheduler(config: SchedulerSettings) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


class FakeWorker:
    """Answers dispatches with ``answer(dispatch)`` and keeps its heartbeat fresh."""

    def __init__(
        self, nc: Client, pool: asyncpg.Pool, answer: Callable[[RunDispatch], bool]
    ) -> None:
        self.worker_id = f"fake-{uuid.uuid4().hex[:8]}"
        self.dispatches: list[RunDispatch] = []
        self._nc = nc
        self._pool = pool
        self._answer = answer

    async def _on_dispatch(self, msg: Msg) -> None:
        dispatch = RunDispatch.model_validate_json(msg.data)
        self.dispatches.append(dispatch)
        reply = DispatchReply(accepted=self._answer(dispatch))
        await msg.respond(reply.model_dump_json().encode())

    async def _beat(self) -> None:
        while True:
            await self._pool.execute(
                "UPDATE workers SET last_heartbeat_at = now() WHERE worker_id = $1",
                self.worker_id,
            )
            await asyncio.sleep(0.1)

    @contextlib.asynccontextmanager
    async def running(self, capacity: int = 10) -> AsyncIterator[FakeWorker]:
        await self._pool.execute(
            "INSERT INTO workers (worker_id, language, version, host, capacity, graphs)"
            " VALUES ($1, 'python', '1', 'h', $2, ARRAY['g'])",
            self.worker_id,
            capacity,
        )
        sub = await self._nc.subscribe(
            subjects.worker_dispatch(DEFAULT_TEAM, self.worker_id), cb=self._on_dispatch
        )
        beat = asyncio.create_task(self._beat())
        try:
            yield self
        finally:
            beat.cancel()
            await sub.unsubscribe()
            await self._pool.execute(
                "UPDATE workers SET state = 'dead' WHERE worker_id = $1", self.worker_id
            )


async def add_run(pool: asyncpg.Pool, kwargs: dict[str, Any] | None = None) -> uuid.UUID:
    thread_id, run_id = uuid.uuid4(), uuid.uuid4()
    await pool.execute(
        "INSERT INTO threads (thread_id, tenant_id, state_values) VALUES ($1, 't', $2)",
        thread_id,
        {"kept": True},
    )
    await pool.execute(
        "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs)"
        " VALUES ($1, $2, 't', $3, 'g', $4)",
        run_id,
        thread_id,
        uuid.uuid4(),
        KWARGS.model_dump(mode="json") if kwargs is None else kwargs,
    )
    return run_id


async def run_messages(
    nc: Client, run_id: uuid.UUID, count: int
) -> list[tuple[AttemptStarted | RunEvent | RunOutcome, str]]:
    """The first ``count`` messages of a run's JetStream subject, with their Nats-Msg-Id."""
    sub = await nc.jetstream().subscribe(subjects.run_events(str(run_id)), ordered_consumer=True)
    try:
        found = []
        for _ in range(count):
            msg = await sub.next_msg(timeout=5)
            found.append((RUN_MESSAGE.validate_json(msg.data), (msg.headers or {})["Nats-Msg-Id"]))
        return found
    finally:
        await sub.unsubscribe()


async def row(pool: asyncpg.Pool, run_id: uuid.UUID) -> asyncpg.Record:
    record = await pool.fetchrow("SELECT * FROM runs WHERE run_id = $1", run_id)
    assert record is not None
    return record


async def test_dispatch_after_fence_and_wake_up(
    servers: Stack, dsn: str, pool: asyncpg.Pool, nc: Client
) -> None:
    worker = FakeWorker(nc, pool, lambda _: True)
    # Polling every 30 s and leases that outlast the test: within 3 s only a wake-up claims.
    config = settings(servers, dsn, poll_interval=30, lease_seconds=60)
    async with scheduler(config), worker.running():
        # A first run, dispatched once the scheduler has made its first claim and hears
        # wake-ups (it subscribes before it claims): the run that follows needs a wake-up.
        await add_run(pool)

        async def woken_and_dispatched() -> bool:
            await nc.publish(subjects.RUNS_REQUESTED, b"")
            return await _dispatched(worker, 1)

        await eventually(woken_and_dispatched, within=10, what="the first dispatch")
        run_id = await add_run(pool)
        await nc.publish(subjects.RUNS_REQUESTED, b"")
        await eventually(lambda: _dispatched(worker, 2), within=3, what="a woken dispatch")
    assert len(worker.dispatches) == 2
    dispatch = worker.dispatches[1]
    assert dispatch.run_id == str(run_id) and dispatch.attempt == 1
    assert dispatch.params == KWARGS and not dispatch.resume_from_checkpoint
    ((started, msg_id),) = await run_messages(nc, run_id, 1)
    assert isinstance(started, AttemptStarted)
    assert (started.attempt, started.worker_id) == (1, worker.worker_id)
    record = await row(pool, run_id)
    assert (record["status"], record["attempt"], record["worker_id"]) == (
        "running",
        1,
        worker.worker_id,
    )
    # The fence and the dispatch carry the attempt's secret, which the row keeps.
    assert record["lease_token"] and started.token == dispatch.token == record["lease_token"]
    assert msg_id == subjects.event_msg_id(str(run_id), 1, 0, record["lease_token"])


async def test_rejected_dispatch_undoes_the_attempt(
    servers: Stack, dsn: str, pool: asyncpg.Pool, nc: Client
) -> None:
    rejections = 2
    worker = FakeWorker(nc, pool, lambda _: len(worker.dispatches) > rejections)
    async with scheduler(settings(servers, dsn)), worker.running():
        run_id = await add_run(pool)
        await eventually(
            lambda: _dispatched(worker, rejections + 1),
            within=10,
            what=f"{rejections + 1} dispatches",
        )
    assert [d.attempt for d in worker.dispatches] == [1] * (rejections + 1)
    record = await row(pool, run_id)
    assert (record["status"], record["attempt"]) == ("running", 1)
    # The same attempt number was fenced each time, each claim with a secret of its own: only
    # the last, which the row holds, speaks for the attempt (a bridge believes no other).
    fences = [message for message, _ in await run_messages(nc, run_id, rejections + 1)]
    tokens = [fence.token for fence in fences]
    assert [fence.attempt for fence in fences] == [1] * (rejections + 1)
    assert tokens == [d.token for d in worker.dispatches]
    assert len(set(tokens)) == rejections + 1 and tokens[-1] == record["lease_token"]


async def test_lost_worker_retries_then_the_run_ends_in_error(
    servers: Stack, dsn: str, pool: asyncpg.Pool, nc: Client
) -> None:
    worker = FakeWorker(nc, pool, lambda _: True)
    async with scheduler(settings(servers, dsn)), worker.running():
        run_id = await add_run(pool)

        async def finished() -> bool:
            return bool((await row(pool, run_id))["worker_id"] == FINISHER_ID)

        await eventually(finished, within=15, what="the finisher ended the run")
    assert [(d.attempt, d.resume_from_checkpoint) for d in worker.dispatches] == [
        (1, False),
        (2, True),
    ]
    record = await row(pool, run_id)
    assert (record["status"], record["attempt"]) == ("running", 3)
    assert record["error"]["error"] == "WorkerLost"
    messages = await run_messages(nc, run_id, 4)
    kinds = [(type(m).__name__, m.attempt, m.seq) for m, _ in messages]
    assert kinds == [
        ("AttemptStarted", 1, 0),
        ("AttemptStarted", 2, 0),
        ("AttemptStarted", 3, 0),
        ("RunOutcome", 3, 1),
    ]
    outcome = messages[3][0]
    assert isinstance(outcome, RunOutcome)
    assert outcome.status == "error" and outcome.error is not None
    assert outcome.error.error == "WorkerLost" and outcome.values == {"kept": True}
    assert messages[3][1] == subjects.event_msg_id(str(run_id), 3, 1, record["lease_token"])
    # The finisher's attempt has a secret of its own, not the lost worker's.
    assert outcome.token == messages[2][0].token == record["lease_token"]
    assert record["lease_token"] not in {d.token for d in worker.dispatches}


async def test_a_run_with_unusable_kwargs_ends_in_error_without_a_dispatch(
    servers: Stack, dsn: str, pool: asyncpg.Pool, nc: Client
) -> None:
    worker = FakeWorker(nc, pool, lambda _: True)
    async with scheduler(settings(servers, dsn)), worker.running():
        run_id = await add_run(pool, {"stream_mode": ["no-such-mode"]})
        messages = await run_messages(nc, run_id, 2)
    assert worker.dispatches == []
    started, outcome = (message for message, _ in messages)
    assert isinstance(started, AttemptStarted) and started.worker_id == FINISHER_ID
    assert isinstance(outcome, RunOutcome) and (outcome.attempt, outcome.seq) == (1, 1)
    assert outcome.error is not None and outcome.error.error == "InvalidRun"


async def _dispatched(worker: FakeWorker, count: int) -> bool:
    return len(worker.dispatches) >= count
