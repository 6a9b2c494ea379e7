"""The claim transaction against a real Postgres: capacity, FIFO per thread, fairness, delays.

Each module works in a database of its own on the session's server, so that services other
tests start (the ``stack``) never see these rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from serverkit import migrated_pool, own_database
from waitkit import eventually

from agentlist.contracts.runs import RunKwargs
from agentlist.launcher import Stack
from agentlist.scheduler.claim import claim
from agentlist.scheduler.queries import StartedRun
from agentlist.scheduler.settings import SchedulerSettings

KWARGS = RunKwargs(input={"messages": []}).model_dump(mode="json")


@pytest_asyncio.fixture(scope="module")
async def pool(servers: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with (
        own_database(servers.database_url, "claim") as dsn,
        migrated_pool(dsn, max_size=6) as pool,
    ):
        yield pool


@pytest_asyncio.fixture(autouse=True)
async def empty(pool: asyncpg.Pool) -> None:
    await pool.execute("TRUNCATE runs, threads, workers CASCADE")


async def claimed_runs(pool: asyncpg.Pool, config: SchedulerSettings) -> list[StartedRun]:
    return (await claim(pool, config)).started


def settings(**overrides: Any) -> SchedulerSettings:
    values: dict[str, Any] = {"batch_size": 100, "heartbeat_interval": 0.5, "lease_seconds": 5}
    return SchedulerSettings.model_validate(values | overrides)


async def add_worker(
    pool: asyncpg.Pool,
    worker_id: str,
    capacity: int,
    graphs: list[str],
    *,
    state: str = "healthy",
    silent_for: float = 0.0,
    drain: bool = False,
) -> None:
    await pool.execute(
        "INSERT INTO workers (worker_id, language, version, host, capacity, state, graphs,"
        " drain_requested, last_heartbeat_at)"
        " VALUES ($1, 'python', '1', 'h', $2, $3, $4, $5, now() - make_interval(secs => $6))",
        worker_id,
        capacity,
        state,
        graphs,
        drain,
        silent_for,
    )


async def add_thread(pool: asyncpg.Pool, tenant: str = "t1") -> uuid.UUID:
    thread_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO threads (thread_id, tenant_id) VALUES ($1, $2)", thread_id, tenant
    )
    return thread_id


async def add_run(
    pool: asyncpg.Pool,
    thread_id: uuid.UUID,
    *,
    tenant: str = "t1",
    graph: str = "g",
    priority: int = 0,
    starts_in: float = 0.0,
    status: str = "pending",
) -> uuid.UUID:
    run_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, status, kwargs,"
        " priority, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp() + make_interval(secs => $9))",
        run_id,
        thread_id,
        tenant,
        uuid.uuid4(),
        graph,
        status,
        KWARGS,
        priority,
        starts_in,
    )
    return run_id


async def running_per_worker(pool: asyncpg.Pool) -> Counter[str]:
    rows = await pool.fetch("SELECT worker_id FROM runs WHERE status = 'running'")
    return Counter(row["worker_id"] for row in rows)


async def test_concurrent_claims_get_disjoint_runs_within_capacity(pool: asyncpg.Pool) -> None:
    for _ in range(200):
        await add_run(pool, await add_thread(pool), graph="g")
    # The workers beat after the slow inserts: on a loaded machine they could look stale.
    await add_worker(pool, "w1", 30, ["g"])
    await add_worker(pool, "w2", 20, ["g", "h"])
    config = settings(batch_size=40)
    first, second = await asyncio.gather(claimed_runs(pool, config), claimed_runs(pool, config))
    ids = [run.run_id for run in first + second]
    assert len(ids) == len(set(ids)) == 50
    assert all(run.attempt == 1 for run in first + second)
    assert await running_per_worker(pool) == {"w1": 30, "w2": 20}
    assert await claimed_runs(pool, config) == []


async def test_least_loaded_worker_first(pool: asyncpg.Pool) -> None:
    await add_worker(pool, "big", 10, ["g"])
    await add_worker(pool, "small", 2, ["g"])
    for _ in range(4):
        await add_run(pool, await add_thread(pool))
    await claimed_runs(pool, settings())
    assert await running_per_worker(pool) == {"big": 3, "small": 1}


async def test_fifo_per_thread_and_one_active_run(pool: asyncpg.Pool) -> None:
    await add_worker(pool, "w1", 10, ["g"])
    thread = await add_thread(pool)
    first = await add_run(pool, thread, starts_in=-3)
    second = await add_run(pool, thread, starts_in=-2, priority=10)
    other = await add_run(pool, await add_thread(pool), starts_in=-1)
    claimed = {run.run_id for run in await claimed_runs(pool, settings())}
    assert claimed == {first, other}
    assert await claimed_runs(pool, settings()) == []  # the thread is busy
    await pool.execute("UPDATE runs SET status = 'success' WHERE run_id = $1", first)
    assert [run.run_id for run in await claimed_runs(pool, settings())] == [second]


async def test_only_due_runs_of_served_graphs_on_fresh_healthy_workers(
    pool: asyncpg.Pool,
) -> None:
    await add_worker(pool, "stale", 5, ["g"], silent_for=10)
    await add_worker(pool, "sick", 5, ["g"], state="unhealthy")
    await add_worker(pool, "leaving", 5, ["g"], drain=True)
    await add_worker(pool, "other", 5, ["h"])
    await add_run(pool, await add_thread(pool), graph="g")
    assert await claimed_runs(pool, settings()) == []
    await add_worker(pool, "fresh", 5, ["g"])
    later = await add_run(pool, await add_thread(pool), graph="g", starts_in=0.6)
    claim_now = await claim(pool, settings())
    assert [run.worker_id for run in claim_now.started] == ["fresh"]
    assert later not in {run.run_id for run in claim_now.started}
    due = claim_now.next_due_in
    assert due is not None and 0 < due <= 0.6
    claimed = await eventually(
        lambda: claimed_runs(pool, settings()), within=10, what="the delayed run claimed once due"
    )
    assert [run.run_id for run in claimed] == [later]


async def test_a_full_graph_does_not_crowd_out_others(pool: asyncpg.Pool) -> None:
    await add_worker(pool, "gw", 1, ["g"])
    await add_worker(pool, "hw", 5, ["h"])
    for _ in range(20):
        await add_run(pool, await add_thread(pool), graph="g", priority=5)
    h_runs = {await add_run(pool, await add_thread(pool), graph="h") for _ in range(3)}
    claimed = await claimed_runs(pool, settings(batch_size=4))
    assert Counter(run.graph_id for run in claimed) == {"g": 1, "h": 3}
    assert h_runs <= {run.run_id for run in claimed}


async def test_one_tenants_backlog_does_not_starve_another(pool: asyncpg.Pool) -> None:
    await pool.execute(
        "WITH t AS (INSERT INTO threads (thread_id, tenant_id)"
        "           SELECT gen_random_uuid(), 'tenant-a' FROM generate_series(1, 10000)"
        "           RETURNING thread_id)"
        " INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs,"
        "                   priority, created_at)"
        " SELECT gen_random_uuid(), thread_id, 'tenant-a', gen_random_uuid(), 'g', $1, 5,"
        "        now() - interval '1 hour'"
        "   FROM t",
        KWARGS,
    )
    lone = await add_run(pool, await add_thread(pool, "tenant-b"), tenant="tenant-b")
    # The worker beats after the slow insert: on a loaded machine it could otherwise look stale.
    await add_worker(pool, "w1", 5, ["g"])
    started = time.perf_counter()
    claimed = await claimed_runs(pool, settings(batch_size=5))
    print(f"claim over a 10k backlog: {(time.perf_counter() - started) * 1000:.1f} ms")
    assert lone in {run.run_id for run in claimed}
    assert Counter(run.tenant_id for run in claimed) == {"tenant-a": 4, "tenant-b": 1}


async def test_a_freed_slot_goes_to_the_tenant_with_fewest_runs_running(
    pool: asyncpg.Pool,
) -> None:
    """Slots free one at a time under load: the oldest pending run must not always win them,
    or a tenant's backlog delays every other tenant's runs until it is worked off."""
    await add_worker(pool, "w1", 4, ["g"])
    for _ in range(3):
        await add_run(pool, await add_thread(pool, "tenant-a"), tenant="tenant-a", status="running")
    await pool.execute("UPDATE runs SET worker_id = 'w1' WHERE status = 'running'")
    for _ in range(5):
        await add_run(pool, await add_thread(pool, "tenant-a"), tenant="tenant-a")
    late = await add_run(pool, await add_thread(pool, "tenant-b"), tenant="tenant-b")
    assert [run.run_id for run in await claimed_runs(pool, settings())] == [late]


@pytest.mark.parametrize("tenants", [3])
async def test_tenants_are_interleaved(pool: asyncpg.Pool, tenants: int) -> None:
    await add_worker(pool, "w1", 6, ["g"])
    for tenant in range(tenants):
        for _ in range(5):
            await add_run(pool, await add_thread(pool, f"t{tenant}"), tenant=f"t{tenant}")
    claimed = await claimed_runs(pool, settings())
    assert Counter(run.tenant_id for run in claimed) == {"t0": 2, "t1": 2, "t2": 2}
