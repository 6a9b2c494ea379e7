"""The bridge against real NATS JetStream, Redis and Postgres: run events into Redis streams in
order and exactly once, run outcomes into Postgres first, across duplicates, reordering,
superseded attempts, two bridge instances, a bridge killed mid-stream and servers restarting."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import nats
import nats.errors
import orjson
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.js import JetStreamContext
from redis.asyncio import Redis
from serverkit import migrated_pool, own_servers
from waitkit import eventually

from agentlist.bridge import settle
from agentlist.bridge.service import serve
from agentlist.bridge.settings import BridgeSettings
from agentlist.contracts import streams, subjects
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import (
    AttemptStarted,
    OutcomeStatus,
    RunEvent,
    RunOutcome,
    new_lease_token,
)
from agentlist.core.nats import ensure_events_stream
from agentlist.db.pool import create_pool, migrate
from agentlist.launcher import Stack

RETENTION = 120
Message = AttemptStarted | RunEvent | RunOutcome


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers() -> Iterator[Stack]:
    """Servers of this module's own. On the session's, the mesh's bridge shares the durable
    consumer and takes some of these tests' messages, with its own settings (a 45 s gap
    patience, where a test asks for 0.5 s)."""
    with own_servers() as stack:
        yield stack


@pytest_asyncio.fixture(scope="module")
async def pg_pool(servers: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(servers.database_url) as pool:
        yield pool


@pytest_asyncio.fixture
async def nc(servers: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(servers.nats_url)
    await ensure_events_stream(client.jetstream(), 86_400, 1)
    yield client
    await client.close()


@pytest_asyncio.fixture
async def redis(servers: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


def settings_for(servers: Stack, **overrides: Any) -> BridgeSettings:
    return BridgeSettings(
        nats_url=servers.nats_url,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        stream_retention_seconds=RETENTION,
        fetch_timeout_seconds=0.25,
        **overrides,
    )


@contextlib.asynccontextmanager
async def running(settings: BridgeSettings) -> AsyncIterator[asyncio.Task[None]]:
    """A bridge in this process, stopped as a SIGTERM would stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@pytest_asyncio.fixture
async def bridge(servers: Stack, nc: Client) -> AsyncIterator[None]:
    async with running(settings_for(servers)):
        yield
        await drained(nc.jetstream())


@dataclass(frozen=True)
class Run:
    """A run whose messages this test publishes as its scheduler and worker would: each
    attempt with the lease token the run's row holds for it (see :func:`take_attempt`)."""

    thread_id: str
    run_id: str
    secret: str = field(default_factory=new_lease_token, repr=False)

    def token(self, attempt: int) -> str:
        return f"{self.secret}-{attempt}"

    def started(self, attempt: int = 1) -> AttemptStarted:
        return AttemptStarted(
            run_id=self.run_id,
            thread_id=self.thread_id,
            attempt=attempt,
            worker_id="w1",
            token=self.token(attempt),
        )

    def event(self, seq: int, attempt: int = 1) -> RunEvent:
        return RunEvent(
            run_id=self.run_id,
            thread_id=self.thread_id,
            attempt=attempt,
            seq=seq,
            token=self.token(attempt),
            event="values",
            data={"attempt": attempt, "seq": seq},
        )

    def outcome(
        self, seq: int, status: OutcomeStatus = "success", attempt: int = 1, **fields: Any
    ) -> RunOutcome:
        return RunOutcome(
            run_id=self.run_id,
            thread_id=self.thread_id,
            attempt=attempt,
            seq=seq,
            token=self.token(attempt),
            status=status,
            **fields,
        )

    @property
    def stream(self) -> str:
        return streams.run_stream_key(self.thread_id, self.run_id)

    @property
    def thread_stream(self) -> str:
        return streams.thread_stream_key(self.thread_id)


async def new_run(
    pool: asyncpg.Pool,
    *,
    attempt: int = 1,
    status: str = "running",
    on_completion: str = "keep",
    thread_id: str | None = None,
) -> Run:
    run = Run(thread_id or str(uuid.uuid4()), str(uuid.uuid4()))
    if thread_id is None:
        await pool.execute(
            "INSERT INTO threads (thread_id, tenant_id, status) VALUES ($1, 'default', 'busy')",
            run.thread_id,
        )
    await pool.execute(
        "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, status, kwargs,"
        " attempt, worker_id, lease_expires_at, on_completion, started_at, lease_token)"
        " VALUES ($1, $2, 'default', $3, 'g', $4, '{}', $5, 'w1', now() + interval '1 minute',"
        " $6, now(), $7)",
        run.run_id,
        run.thread_id,
        uuid.uuid4(),
        status,
        attempt,
        on_completion,
        run.token(attempt) if attempt else None,
    )
    return run


async def take_attempt(pool: asyncpg.Pool, run: Run, attempt: int) -> None:
    """What a scheduler's claim does to the run's row for a new attempt (after a failover)."""
    await pool.execute(
        "UPDATE runs SET attempt = $2, lease_token = $3 WHERE run_id = $1",
        run.run_id,
        attempt,
        run.token(attempt),
    )


async def publish(js: JetStreamContext, *messages: Message, msg_id_suffix: str = "") -> None:
    for message in messages:
        msg_id = subjects.event_msg_id(message.run_id, message.attempt, message.seq, message.token)
        await js.publish(
            subjects.run_events(message.run_id),
            message.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id + msg_id_suffix},
        )


async def entries(redis: Redis, key: str) -> list[tuple[str, Any]]:
    raw: Any = await redis.xrange(key)
    return [(fields[b"event"].decode(), orjson.loads(fields[b"data"])) for _, fields in raw]


async def until_entries(redis: Redis, key: str, count: int) -> list[tuple[str, Any]]:
    return await eventually(
        lambda: entries(redis, key),
        lambda found: len(found) >= count,
        within=20,
        what=f"{count} entries in {key}",
    )


async def until_end(redis: Redis, run: Run, within: float = 20) -> list[tuple[str, Any]]:
    return await eventually(
        lambda: entries(redis, run.stream),
        lambda found: bool(found) and found[-1][0] == streams.END_EVENT,
        within=within,
        what=f"the end of {run.stream}",
    )


async def drained(js: JetStreamContext, within: float = 30) -> None:
    """Every message published so far has been delivered and acknowledged."""

    async def backlog() -> tuple[int, int]:
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.BRIDGE_CONSUMER)
        return info.num_pending or 0, info.num_ack_pending or 0

    await eventually(
        backlog, lambda counts: counts == (0, 0), within=within, what="nothing pending or unacked"
    )


def metadata(run: Run, attempt: int = 1) -> tuple[str, Any]:
    return ("metadata", {"run_id": run.run_id, "attempt": attempt})


def values(seq: int, attempt: int = 1) -> tuple[str, Any]:
    return ("values", {"attempt": attempt, "seq": seq})


# -- events ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("bridge")
async def test_events_land_once_in_order_after_metadata(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool)
    await publish(nc.jetstream(), run.started(), *(run.event(seq) for seq in range(1, 6)))
    expected = [metadata(run), *(values(seq) for seq in range(1, 6))]
    assert await until_entries(redis, run.stream, 6) == expected
    raw: Any = await redis.xrange(run.thread_stream)
    assert [fields[b"run_id"].decode() for _, fields in raw] == [run.run_id] * 6
    assert await entries(redis, run.thread_stream) == expected
    assert 3600 < await redis.ttl(run.stream) <= 86_400  # live: kept a day, not the retention


async def test_duplicates_under_other_message_ids_are_written_once(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    run = await new_run(pg_pool)
    async with running(settings_for(servers)):
        await publish(js, run.started(), run.event(1), run.event(2))
        await publish(js, run.event(2), run.event(1), run.started(), msg_id_suffix=":again")
        await publish(js, run.event(3))
        await until_entries(redis, run.stream, 4)
        await drained(js)
    assert await entries(redis, run.stream) == [metadata(run), values(1), values(2), values(3)]


@pytest.mark.usefixtures("bridge")
async def test_out_of_order_events_end_in_order(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool)
    await publish(nc.jetstream(), run.event(3), run.event(1), run.started(), run.event(2))
    await publish(nc.jetstream(), run.event(5), run.event(4))
    found = await until_entries(redis, run.stream, 6)
    assert found == [metadata(run), *(values(seq) for seq in range(1, 6))]


async def test_a_lost_event_is_given_up_after_the_gap_patience(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    run = await new_run(pg_pool)
    fast = {"gap_patience_seconds": 0.5, "max_nak_delay_seconds": 0.1}
    async with running(settings_for(servers, **fast)):
        await publish(js, run.started(), run.event(1), run.event(4), run.event(3))
        found = await until_entries(redis, run.stream, 4)
        await publish(js, run.event(2))  # too late: the stream went on without it
        await drained(js)
    assert found == [metadata(run), values(1), values(3), values(4)]
    assert await entries(redis, run.stream) == found


async def test_a_superseded_attempt_is_fenced_off(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    run = await new_run(pg_pool)
    async with running(settings_for(servers)):
        await publish(js, run.started(1), run.event(1), run.event(2))
        await until_entries(redis, run.stream, 3)
        await take_attempt(pg_pool, run, 2)
        await publish(js, run.started(2))
        await until_entries(redis, run.stream, 4)
        # The old attempt's worker did not hear of it and goes on, outcome included.
        await publish(js, run.event(3), run.event(4), run.outcome(5, "error"))
        await publish(js, run.event(1, attempt=2), run.event(2, attempt=2))
        await until_entries(redis, run.stream, 6)
        await drained(js)
    assert await entries(redis, run.stream) == [
        metadata(run, 1),
        values(1),
        values(2),
        metadata(run, 2),
        values(1, attempt=2),
        values(2, attempt=2),
    ]
    row = await pg_pool.fetchrow("SELECT status, attempt FROM runs WHERE run_id = $1", run.run_id)
    assert row is not None and (row["status"], row["attempt"]) == ("running", 2)


# -- outcomes --------------------------------------------------------------------------------

BOOM = ErrorInfo(error="ValueError", message="boom")
ASK = {"t1": [{"value": "name?", "id": "i1"}]}


@pytest.mark.parametrize(
    ("status", "fields", "run_status", "thread_status"),
    [
        ("success", {"values": {"x": 1}}, "success", "idle"),
        (
            "success",
            {"values": {"x": 1}, "next": ["ask"], "interrupts": ASK},
            "success",
            "interrupted",
        ),
        ("error", {"error": BOOM}, "error", "error"),
        ("timeout", {}, "timeout", "error"),
        ("interrupted", {"next": ["n2"]}, "interrupted", "interrupted"),
        ("rollback", {}, None, "idle"),
    ],
)
@pytest.mark.usefixtures("bridge")
async def test_an_outcome_ends_the_run_in_postgres_then_in_redis(
    nc: Client,
    redis: Redis,
    pg_pool: asyncpg.Pool,
    status: OutcomeStatus,
    fields: dict[str, Any],
    run_status: str | None,
    thread_status: str,
) -> None:
    run = await new_run(pg_pool)
    outcome = run.outcome(2, status, **fields)
    await publish(nc.jetstream(), run.started(), run.event(1), outcome)
    found = await until_end(redis, run)

    # Postgres was written before the end entry became visible.
    row = await pg_pool.fetchrow(
        "SELECT status, error, ended_at, lease_expires_at FROM runs WHERE run_id = $1", run.run_id
    )
    thread = await pg_pool.fetchrow("SELECT * FROM threads WHERE thread_id = $1", run.thread_id)
    assert thread is not None
    assert thread["status"] == thread_status
    assert thread["state_values"] == outcome.values
    assert thread["interrupts"] == outcome.interrupts
    if run_status is None:
        assert row is None
    else:
        assert row is not None and row["status"] == run_status
        assert row["ended_at"] is not None and row["lease_expires_at"] is None

    end_status = {"rollback": "interrupted"}.get(status, status)
    failed = status in ("error", "timeout")
    events = [name for name, _ in found]
    assert events == ["metadata", "values", *(["error"] if failed else []), streams.END_EVENT]
    end = streams.StreamEnd.model_validate(found[-1][1])
    assert (end.status, end.values, end.next, end.interrupts) == (
        end_status,
        outcome.values,
        outcome.next,
        outcome.interrupts,
    )
    if failed:
        assert end.error is not None and row is not None and thread is not None
        assert found[-2][1] == {"error": end.error.error, "message": end.error.message}
        assert row["error"] == end.error.model_dump() == thread["error"]
        if status == "error":
            assert end.error == BOOM
    else:
        assert end.error is None and thread["error"] is None

    thread_found = await until_entries(redis, run.thread_stream, len(found))
    assert thread_found[-1] == ("metadata", {"status": "run_done", "run_id": run.run_id})
    assert streams.END_EVENT not in [name for name, _ in thread_found]
    end_stream = streams.run_end_key(run.thread_id, run.run_id)
    assert [name for name, _ in await until_entries(redis, end_stream, 1)] == [streams.END_EVENT]
    cursor = streams.run_cursor_key(run.thread_id, run.run_id)
    for key in (run.stream, cursor, run.thread_stream, end_stream):
        assert 0 < await redis.ttl(key) <= RETENTION


@pytest.mark.usefixtures("bridge")
async def test_an_outcome_wakes_the_schedulers_for_the_threads_next_run(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool)
    queued = await new_run(pg_pool, status="pending", attempt=0, thread_id=run.thread_id)
    wakeups = await nc.subscribe(subjects.RUNS_REQUESTED)
    await publish(nc.jetstream(), run.started(), run.outcome(1, values={"x": 1}))
    await wakeups.next_msg(timeout=10)
    await until_end(redis, run)
    thread = await pg_pool.fetchval(
        "SELECT status FROM threads WHERE thread_id = $1", run.thread_id
    )
    assert thread == "busy"  # its next run keeps it so
    await wakeups.unsubscribe()
    await pg_pool.execute("DELETE FROM runs WHERE run_id = $1", queued.run_id)


@pytest.mark.usefixtures("bridge")
async def test_a_released_run_goes_back_to_the_queue(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool, attempt=3)
    wakeups = await nc.subscribe(subjects.RUNS_REQUESTED)
    await publish(nc.jetstream(), run.started(3), run.outcome(1, "released", attempt=3))
    await wakeups.next_msg(timeout=10)
    await drained(nc.jetstream())
    row = await pg_pool.fetchrow("SELECT * FROM runs WHERE run_id = $1", run.run_id)
    assert row is not None
    assert (row["status"], row["attempt"], row["worker_id"], row["lease_expires_at"]) == (
        "pending",
        3,
        None,
        None,
    )
    thread = await pg_pool.fetchval(
        "SELECT status FROM threads WHERE thread_id = $1", run.thread_id
    )
    assert thread == "busy"
    assert await entries(redis, run.stream) == [metadata(run, 3)]
    assert await entries(redis, run.thread_stream) == [metadata(run, 3)]
    assert await redis.ttl(run.stream) > RETENTION  # still live
    await wakeups.unsubscribe()


@pytest.mark.usefixtures("bridge")
async def test_a_thread_with_a_queued_run_stays_busy(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool)
    await new_run(pg_pool, status="pending", attempt=0, thread_id=run.thread_id)
    await publish(nc.jetstream(), run.started(), run.outcome(1, "error", error=BOOM))
    await until_end(redis, run)
    thread = await pg_pool.fetchval(
        "SELECT status FROM threads WHERE thread_id = $1", run.thread_id
    )
    assert thread == "busy"


@pytest.mark.usefixtures("bridge")
async def test_a_stateless_run_deletes_its_thread_after_its_end(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool, on_completion="delete")
    await publish(nc.jetstream(), run.started(), run.event(1), run.outcome(2, values={"a": 1}))
    found = await until_end(redis, run)
    assert streams.StreamEnd.model_validate(found[-1][1]).values == {"a": 1}

    async def thread_left() -> int:
        return int(
            await pg_pool.fetchval(
                "SELECT count(*) FROM threads WHERE thread_id = $1", run.thread_id
            )
        )

    await eventually(thread_left, lambda count: count == 0, within=20, what="the thread deleted")
    assert await pg_pool.fetchval("SELECT count(*) FROM runs WHERE run_id = $1", run.run_id) == 0


@pytest.mark.usefixtures("bridge")
async def test_an_outcome_of_a_superseded_attempt_changes_nothing(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    run = await new_run(pg_pool)
    await publish(nc.jetstream(), run.started(1), run.event(1))
    await until_entries(redis, run.stream, 2)
    await take_attempt(pg_pool, run, 2)
    before = await pg_pool.fetchrow("SELECT * FROM runs WHERE run_id = $1", run.run_id)
    # Attempt 2's AttemptStarted has not reached the bridge yet: only Postgres knows.
    await publish(nc.jetstream(), run.outcome(2, "success"))
    await drained(nc.jetstream())
    assert await pg_pool.fetchrow("SELECT * FROM runs WHERE run_id = $1", run.run_id) == before
    thread = await pg_pool.fetchval(
        "SELECT status FROM threads WHERE thread_id = $1", run.thread_id
    )
    assert thread == "busy"
    assert await entries(redis, run.stream) == [metadata(run), values(1)]
    # The attempt that owns the run still ends it.
    await publish(nc.jetstream(), run.started(2), run.outcome(1, "success", attempt=2))
    await until_end(redis, run)
    assert await pg_pool.fetchval("SELECT status FROM runs WHERE run_id = $1", run.run_id) == (
        "success"
    )


@pytest.mark.usefixtures("bridge")
async def test_an_outcome_already_in_postgres_still_ends_the_stream(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """A bridge that died between the Postgres commit and the Redis write: the redelivery
    finds the run ended, leaves Postgres alone and writes the end."""
    run = await new_run(pg_pool)
    outcome = run.outcome(2, values={"v": 1})
    settled = await settle.settle_run(pg_pool, outcome)
    assert (settled.settled, settled.thread_to_delete) == (settle.Settled.APPLIED, None)
    ended_at = await pg_pool.fetchval("SELECT ended_at FROM runs WHERE run_id = $1", run.run_id)
    await publish(nc.jetstream(), run.started(), run.event(1), outcome)
    found = await until_end(redis, run)
    assert [name for name, _ in found] == ["metadata", "values", streams.END_EVENT]
    row = await pg_pool.fetchrow("SELECT status, ended_at FROM runs WHERE run_id = $1", run.run_id)
    assert row is not None and (row["status"], row["ended_at"]) == ("success", ended_at)


# -- forged and stale messages ---------------------------------------------------------------
# An attacker on the bus publishes to a run's subject as a worker would, with the ids it can
# see or guess, but without the attempt's lease token.


async def snapshot(pool: asyncpg.Pool, redis: Redis, run: Run) -> tuple[Any, ...]:
    row = await pool.fetchrow("SELECT * FROM runs WHERE run_id = $1", run.run_id)
    thread = await pool.fetchrow("SELECT * FROM threads WHERE thread_id = $1", run.thread_id)
    return (
        row,
        thread,
        await entries(redis, run.stream),
        await entries(redis, run.thread_stream),
        await redis.hget(streams.run_cursor_key(run.thread_id, run.run_id), "seq"),
    )


def forgeries(run: Run, token: str | None, attempt: int = 1) -> list[Message]:
    """An event and an outcome at the run's next places, a fence taking it over as the next
    attempt with the attacker's token, then that attempt's event and outcome."""
    common = {"run_id": run.run_id, "thread_id": run.thread_id, "token": token}
    evil = {"forged": True}
    return [
        RunEvent(**common, attempt=attempt, seq=2, event="values", data=evil),
        RunOutcome(**common, attempt=attempt, seq=3, status="success", values=evil),
        AttemptStarted(**common, attempt=attempt + 1, worker_id="aaa-evil"),
        RunEvent(**common, attempt=attempt + 1, seq=1, event="values", data=evil),
        RunOutcome(**common, attempt=attempt + 1, seq=2, status="success", values=evil),
    ]


@pytest.mark.parametrize("token", ["guessed-token", None], ids=["wrong-token", "no-token"])
@pytest.mark.usefixtures("bridge")
async def test_forged_events_and_outcomes_change_nothing(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool, token: str | None
) -> None:
    js = nc.jetstream()
    run = await new_run(pg_pool)
    await publish(js, run.started(), run.event(1))
    await until_entries(redis, run.stream, 2)
    await drained(js)
    before = await snapshot(pg_pool, redis, run)
    await publish(js, *forgeries(run, token))
    await drained(js)
    assert await snapshot(pg_pool, redis, run) == before
    # The worker that holds the run goes on and ends it, with every message of its own.
    await publish(js, run.event(2), run.outcome(3, values={"x": 1}))
    found = await until_end(redis, run)
    assert found[:3] == [metadata(run), values(1), values(2)]
    assert streams.StreamEnd.model_validate(found[-1][1]).values == {"x": 1}
    thread = await pg_pool.fetchrow(
        "SELECT status, state_values FROM threads WHERE thread_id = $1", run.thread_id
    )
    assert thread is not None and (thread["status"], thread["state_values"]) == ("idle", {"x": 1})
    assert await pg_pool.fetchval("SELECT status FROM runs WHERE run_id = $1", run.run_id) == (
        "success"
    )


@pytest.mark.usefixtures("bridge")
async def test_a_forged_fence_and_outcome_cannot_touch_another_tenants_thread(
    nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """The attack of issue 11: an AttemptStarted plus an outcome that name another tenant's
    thread. Neither a run of the attacker's choosing nor the victim's own run lends its
    thread to the message."""
    js = nc.jetstream()
    victim = await new_run(pg_pool)
    await pg_pool.execute(
        "UPDATE threads SET state_values = '{\"mine\": 1}' WHERE thread_id = $1",
        victim.thread_id,
    )
    await publish(js, victim.started(), victim.event(1))
    await until_entries(redis, victim.stream, 2)
    attacker = await new_run(pg_pool)  # a run the attacker may start, on its own thread
    await drained(js)
    before = await snapshot(pg_pool, redis, victim)
    evil = {"forged": True}
    for run_id, attempt in ((str(uuid.uuid4()), 1), (attacker.run_id, 1), (victim.run_id, 2)):
        aimed = Run(victim.thread_id, run_id)
        common = {"run_id": run_id, "thread_id": victim.thread_id, "attempt": attempt}
        await publish(
            js,
            AttemptStarted(**common, worker_id="aaa-evil", token=aimed.token(attempt)),
            RunOutcome(**common, seq=1, status="success", values=evil, token=aimed.token(attempt)),
        )
    # The attacker's own run, with its own token, still writes only to its own thread.
    await publish(
        js,
        attacker.started(),
        RunOutcome(
            run_id=attacker.run_id,
            thread_id=victim.thread_id,
            attempt=1,
            seq=1,
            token=attacker.token(1),
            status="success",
            values=evil,
        ),
    )
    await drained(js)
    assert await snapshot(pg_pool, redis, victim) == before
    assert before[1]["state_values"] == {"mine": 1}
    assert await entries(redis, streams.thread_stream_key(victim.thread_id)) == before[3]


async def test_a_superseded_attempts_token_is_refused_after_failover(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    """Attempt 1's worker comes back after attempt 2 took over: even with its real token, it
    changes nothing; and attempt 1's token does not pass for attempt 2's."""
    js = nc.jetstream()
    run = await new_run(pg_pool)
    async with running(settings_for(servers)):
        await publish(js, run.started(1), run.event(1))
        await until_entries(redis, run.stream, 2)
        await take_attempt(pg_pool, run, 2)
        await publish(js, run.started(2), run.event(1, attempt=2))
        await until_entries(redis, run.stream, 4)
        await drained(js)
        before = await snapshot(pg_pool, redis, run)
        stale: list[Message] = [run.event(2), run.outcome(3, values={"stale": True})]
        borrowed: list[Message] = [
            message.model_copy(update={"token": run.token(1)})
            for message in (run.event(2, attempt=2), run.outcome(3, attempt=2))
        ]
        await publish(js, *stale, *borrowed, msg_id_suffix=":replayed")
        await drained(js)
        assert await snapshot(pg_pool, redis, run) == before
        await publish(js, run.event(2, attempt=2), run.outcome(3, attempt=2, values={"n": 2}))
        found = await until_end(redis, run)
        await drained(js)
    assert found[:-1] == [
        metadata(run, 1),
        values(1),
        metadata(run, 2),
        values(1, attempt=2),
        values(2, attempt=2),
    ]
    assert await pg_pool.fetchval("SELECT status FROM runs WHERE run_id = $1", run.run_id) == (
        "success"
    )


# -- scale-out and crashes -------------------------------------------------------------------


async def publish_runs(js: JetStreamContext, runs: list[Run], events: int, pace: float) -> None:
    """Each run's messages in order (as its worker sends them), the runs side by side."""

    async def one(run: Run) -> None:
        await publish(js, run.started())
        for seq in range(1, events + 1):
            await publish(js, run.event(seq))
            if pace and seq % 10 == 0:
                await asyncio.sleep(pace)  # the pace of a worker's events, not a wait
        await publish(js, run.outcome(events + 1, values={"n": events}))

    await asyncio.gather(*(one(run) for run in runs))


async def assert_exactly_once(
    redis: Redis, pg_pool: asyncpg.Pool, runs: list[Run], events: int
) -> None:
    for run in runs:
        found = await entries(redis, run.stream)
        assert found[:-1] == [metadata(run), *(values(seq) for seq in range(1, events + 1))]
        assert found[-1][0] == streams.END_EVENT
    statuses = await pg_pool.fetch(
        "SELECT status FROM runs WHERE run_id = ANY($1::uuid[])", [run.run_id for run in runs]
    )
    assert [row["status"] for row in statuses] == ["success"] * len(runs)


async def test_two_bridges_keep_every_run_in_order(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    runs = [await new_run(pg_pool) for _ in range(5)]
    small_batches = settings_for(servers, batch_size=16)
    async with running(small_batches), running(small_batches):
        await publish_runs(js, runs, events=98, pace=0)  # 5 x 100 messages
        for run in runs:
            await until_end(redis, run, within=60)
        await drained(js)
    await assert_exactly_once(redis, pg_pool, runs, events=98)


@pytest.mark.slow
async def test_a_bridge_killed_mid_stream_loses_and_repeats_nothing(
    servers: Stack, nc: Client, redis: Redis, pg_pool: asyncpg.Pool
) -> None:
    js = nc.jetstream()
    runs = [await new_run(pg_pool) for _ in range(4)]
    # Small batches keep the bridge busy, so that the kill lands between a write and its ack.
    env = {"AGENTLIST_BRIDGE_ACK_WAIT_SECONDS": "2", "AGENTLIST_BRIDGE_BATCH_SIZE": "16"}
    first = servers.start_service("bridge", env=env)
    second = None
    try:
        probe = await new_run(pg_pool)
        await publish(js, probe.started())
        await until_entries(redis, probe.stream, 1)  # the bridge is up
        publishing = asyncio.create_task(publish_runs(js, runs, events=248, pace=0))

        async def written() -> int:
            return sum([int(await redis.xlen(run.stream)) for run in runs])

        await eventually(written, lambda count: count >= 300, within=20, what="300 events written")
        first.kill()
        assert await written() < 1000, "the kill must land mid-stream"
        second = servers.start_service("bridge", env=env)
        await publishing
        for run in runs:
            await until_end(redis, run, within=60)
        await drained(js)
    finally:
        first.stop()
        if second is not None:
            second.stop()
    await assert_exactly_once(redis, pg_pool, runs, events=248)


# -- servers restarting ----------------------------------------------------------------------


@pytest.mark.slow
async def test_restarted_servers_cost_nothing(servers: Stack) -> None:
    # The module's own servers (see ``servers``): restarting them disturbs no other module.
    nc = await nats.connect(servers.nats_url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    redis = Redis.from_url(servers.redis_url)
    pool = await create_pool(servers.database_url, max_size=2)
    await migrate(pool)
    await ensure_events_stream(nc.jetstream(), 86_400, 1)
    js = nc.jetstream()
    runs = [await new_run(pool) for _ in range(2)]
    fast = {"max_backoff": 0.5}

    async def connected() -> bool:
        return bool(nc.is_connected)

    try:
        async with running(settings_for(servers, **fast)):
            await publish(js, *(run.started() for run in runs))
            await publish(js, *(run.event(seq) for seq in range(1, 21) for run in runs))
            await until_entries(redis, runs[1].stream, 21)

            servers.servers["redis"].stop()
            await publish(js, *(run.event(seq) for seq in range(21, 41) for run in runs))
            # The outage is the point: the bridge fails at Redis meanwhile, and backs off.
            await asyncio.sleep(1)
            servers.servers["redis"].start()
            await redis.connection_pool.disconnect()  # this test's client does not retry
            await until_entries(redis, runs[1].stream, 41)

            servers.servers["postgres"].stop()
            await publish(js, runs[0].outcome(41, values={"n": 40}))
            await asyncio.sleep(1)  # the outage is the point: the outcome waits for Postgres
            servers.servers["postgres"].start()
            await until_end(redis, runs[0], within=30)

            servers.servers["nats"].stop()
            servers.servers["nats"].start()
            await eventually(connected, within=15, what="this test's client reconnected")

            async def outcome_published() -> bool:
                try:
                    await publish(js, runs[1].outcome(41, values={"n": 40}))
                except nats.errors.Error:
                    return False
                return True

            # JetStream takes a moment to recover its streams (a repeat is deduplicated).
            await eventually(
                outcome_published, within=10, every=0.25, what="JetStream back after its restart"
            )
            await until_end(redis, runs[1], within=30)
            await drained(js)
        await pool.expire_connections()
        await assert_exactly_once(redis, pool, runs, events=40)
    finally:
        await pool.close()
        await redis.aclose()
        await nc.close()
