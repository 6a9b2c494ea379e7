"""A burst of 2,000 runs through one scheduler process, with a fake worker that accepts all:
every run is dispatched exactly once. Prints runs/s (``pytest ... -s``); speed itself is
measured in benchmarks/, not asserted here."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest_asyncio
from nats.aio.msg import Msg
from serverkit import own_database
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.runs import DispatchReply, RunDispatch, RunKwargs
from agentlist.db.pool import create_pool
from agentlist.launcher import Stack

RUNS = 2000
ACCEPT = DispatchReply(accepted=True).model_dump_json().encode()


@pytest_asyncio.fixture(scope="module")
async def dsn(servers: Stack) -> AsyncIterator[str]:
    async with own_database(servers.database_url, "sched_tp") as url:
        yield url


async def test_a_burst_is_dispatched_once_each(servers: Stack, dsn: str) -> None:
    worker_id = f"fake-{uuid.uuid4().hex[:8]}"
    child = servers.start_service(
        "scheduler",
        name=f"scheduler-throughput-{worker_id}",
        env={
            "DATABASE_URL": dsn,
            "AGENTLIST_SCHEDULER_BATCH_SIZE": "200",
            "AGENTLIST_SCHEDULER_POLL_INTERVAL": "1",
            # No registry renews leases here: a short lease would (rightly) retry the runs.
            "AGENTLIST_LEASE_SECONDS": "300",
        },
    )
    nc = await nats.connect(servers.nats_url)
    pool = await create_pool(dsn, max_size=2)
    received: list[str] = []
    all_in = asyncio.Event()

    async def on_dispatch(msg: Msg) -> None:
        received.append(RunDispatch.model_validate_json(msg.data).run_id)
        await msg.respond(ACCEPT)
        if len(received) == RUNS + 1:
            all_in.set()

    try:
        await nc.subscribe(subjects.worker_dispatch(DEFAULT_TEAM, worker_id), cb=on_dispatch)
        await eventually(
            lambda: _migrated(pool),
            within=20,
            every=0.2,
            what="the scheduler process applied the migrations",
        )
        await pool.execute(
            "INSERT INTO workers (worker_id, language, version, host, capacity, graphs)"
            " VALUES ($1, 'python', '1', 'h', 100000, ARRAY['g'])",
            worker_id,
        )
        await _insert_runs(pool, 1)  # warm-up: the scheduler is serving once this one arrives

        async def beat_then_received() -> list[str]:
            await _beat(pool, worker_id)
            return received

        await eventually(beat_then_received, within=60, every=0.1, what="the warm-up run")
        await _insert_runs(pool, RUNS)
        started = time.perf_counter()
        await nc.publish(subjects.RUNS_REQUESTED, b"")
        while not all_in.is_set():
            await _beat(pool, worker_id)
            await asyncio.wait([asyncio.ensure_future(all_in.wait())], timeout=0.5)
            assert time.perf_counter() - started < 60, f"{len(received)} of {RUNS} dispatched"
        elapsed = time.perf_counter() - started
        print(
            f"\nclaimed and dispatched {RUNS} runs in {elapsed:.2f}s: {RUNS / elapsed:.0f} runs/s"
        )
        assert len(received) == len(set(received)) == RUNS + 1
    finally:
        await nc.drain()
        await pool.close()
        child.stop()


async def _migrated(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval("SELECT to_regclass('runs') IS NOT NULL"))


async def _beat(pool: asyncpg.Pool, worker_id: str) -> None:
    await pool.execute(
        "UPDATE workers SET last_heartbeat_at = now() WHERE worker_id = $1", worker_id
    )


async def _insert_runs(pool: asyncpg.Pool, count: int) -> None:
    await pool.execute(
        "WITH t AS (INSERT INTO threads (thread_id, tenant_id)"
        "           SELECT gen_random_uuid(), 'tenant-' || (n % 7) FROM generate_series(1, $1) n"
        "           RETURNING thread_id, tenant_id)"
        " INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs)"
        " SELECT gen_random_uuid(), thread_id, tenant_id, gen_random_uuid(), 'g', $2 FROM t",
        count,
        RunKwargs(input={"n": 1}).model_dump(mode="json"),
    )
