"""The runs a tenant may have in flight, checked by the statement that queues a run
(``agentlist.api.db.runs.QUEUE``) on a real Postgres."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from agentlist.api.db import runs, threads
from agentlist.contracts.ids import uuid7


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


async def queue(pool: asyncpg.Pool, tenant: str, cap: int) -> runs.Queued:
    """A new run on a new thread of ``tenant``, as ``enqueue_run`` queues it."""
    thread_id = uuid7()
    async with pool.acquire() as conn, conn.transaction():
        await threads.insert(conn, tenant, thread_id, metadata={}, status="busy")
        run = runs.NewRun(
            run_id=uuid7(),
            thread_id=thread_id,
            tenant_id=tenant,
            assistant_id=uuid.uuid4(),
            graph_id="agent",
            metadata={},
            kwargs={},
            multitask_strategy="enqueue",
            after_seconds=0,
            on_completion="keep",
            webhook=None,
        )
        return await runs.queue(conn, run, reject_if_active=False, thread_stamp={}, tenant_cap=cap)


async def test_a_tenant_at_its_cap_is_refused_until_a_run_ends(
    pg_pool: asyncpg.Pool, tenant: str
) -> None:
    first = await queue(pg_pool, tenant, cap=2)
    assert first.row is not None and not first.tenant_full
    await pg_pool.execute(
        "UPDATE runs SET status = 'running' WHERE run_id = $1", first.row["run_id"]
    )
    second = await queue(pg_pool, tenant, cap=2)
    assert second.row is not None

    refused = await queue(pg_pool, tenant, cap=2)  # one running, one pending
    assert refused.row is None and refused.tenant_full
    assert (await queue(pg_pool, f"{tenant}-other", cap=2)).row is not None

    await pg_pool.execute(
        "UPDATE runs SET status = 'success' WHERE run_id = $1", first.row["run_id"]
    )
    assert (await queue(pg_pool, tenant, cap=2)).row is not None


async def test_no_cap_never_refuses(pg_pool: asyncpg.Pool, tenant: str) -> None:
    for _ in range(5):
        queued = await queue(pg_pool, tenant, cap=0)
        assert queued.row is not None and not queued.tenant_full
