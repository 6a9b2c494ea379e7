"""Runs: SQL and the shape clients receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from agentlist.db.sql import Executor

_COLUMNS = (
    "run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs, multitask_strategy,"
    " attempt, worker_id, error, created_at, updated_at, started_at, ended_at"
)
ACTIVE = ("pending", "running")
TERMINAL = frozenset({"success", "error", "timeout", "interrupted"})


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "run_id": str(row["run_id"]),
        "thread_id": str(row["thread_id"]),
        "assistant_id": str(row["assistant_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "status": row["status"],
        "metadata": row["metadata"],
        "kwargs": row["kwargs"],
        "multitask_strategy": row["multitask_strategy"],
    }


@dataclass(frozen=True)
class NewRun:
    run_id: UUID
    thread_id: UUID
    tenant_id: str
    assistant_id: UUID
    graph_id: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str
    after_seconds: float
    on_completion: str
    webhook: str | None


@dataclass(frozen=True)
class Queued:
    row: asyncpg.Record | None
    """The new run; ``None`` when it was refused because the thread has active runs."""
    active: list[UUID]
    """The thread's runs that were pending or running before it, oldest first."""


# One statement, run under the thread's lock (taken by an earlier statement, so that its
# snapshot holds every run committed before the lock was granted): the thread's active runs,
# the new run unless $12 refuses it next to them, and the thread marked busy with the graph
# and assistant that ran it last ($13).
_QUEUE = f"""
WITH active AS (
    SELECT run_id, created_at FROM runs
    WHERE thread_id = $2 AND status IN ('pending', 'running')
), inserted AS (
    INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, metadata, kwargs,
                      multitask_strategy, on_completion, webhook, created_at, updated_at)
    SELECT $1::uuid, $2::uuid, $3::text, $4::uuid, $5::text, $6::jsonb, $7::jsonb, $8::text,
           $9::text, $10::text, now() + make_interval(secs => $11::float8), now()
    WHERE NOT ($12::bool AND EXISTS (SELECT 1 FROM active))
    RETURNING {_COLUMNS}
), busy AS (
    UPDATE threads
    SET status = 'busy', graph_id = $5, metadata = metadata || $13::jsonb, updated_at = now()
    WHERE thread_id = $2 AND EXISTS (SELECT 1 FROM inserted)
)
SELECT inserted.*, ARRAY(SELECT run_id FROM active ORDER BY created_at) AS active_runs
FROM (SELECT 1) AS one LEFT JOIN inserted ON TRUE
"""


async def queue(
    conn: Executor, run: NewRun, *, reject_if_active: bool, thread_stamp: dict[str, Any]
) -> Queued:
    """Insert ``run`` as ``pending`` and mark its thread busy, in one round trip; the caller
    holds the thread's row lock (see ``_QUEUE``)."""
    row = await conn.fetchrow(
        _QUEUE,
        run.run_id,
        run.thread_id,
        run.tenant_id,
        run.assistant_id,
        run.graph_id,
        run.metadata,
        run.kwargs,
        run.multitask_strategy,
        run.on_completion,
        run.webhook,
        run.after_seconds,
        reject_if_active,
        thread_stamp,
    )
    assert row is not None  # the outer query always returns its one row
    return Queued(row if row["run_id"] is not None else None, list(row["active_runs"]))


async def get(conn: Executor, tenant: str, thread_id: UUID, run_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM runs WHERE run_id = $1 AND thread_id = $2 AND tenant_id = $3",
        run_id,
        thread_id,
        tenant,
    )
    return row


async def status(conn: Executor, run_id: UUID) -> str | None:
    value: str | None = await conn.fetchval("SELECT status FROM runs WHERE run_id = $1", run_id)
    return value


async def active_on_thread(conn: Executor, thread_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT run_id, status FROM runs WHERE thread_id = $1 AND status IN ('pending', 'running')"
        " ORDER BY created_at",
        thread_id,
    )
    return rows


@dataclass(frozen=True)
class Taken:
    """A pending run the API took over (as pseudo-worker) in order to cancel it."""

    thread_id: UUID
    attempt: int
    thread_values: Any
    thread_interrupts: dict[str, Any]


async def take_pending_for_cancel(
    conn: Executor, run_id: UUID, action: str, worker_id: str, lease_seconds: float
) -> Taken | None:
    row = await conn.fetchrow(
        """
        UPDATE runs r
        SET status = 'running', attempt = r.attempt + 1, worker_id = $3, cancel_action = $2,
            lease_expires_at = now() + make_interval(secs => $4::float8), updated_at = now()
        FROM threads t
        WHERE r.run_id = $1 AND r.status = 'pending' AND t.thread_id = r.thread_id
        RETURNING r.thread_id, r.attempt, t.state_values, t.interrupts
        """,
        run_id,
        action,
        worker_id,
        lease_seconds,
    )
    if row is None:
        return None
    return Taken(row["thread_id"], row["attempt"], row["state_values"], row["interrupts"])


async def flag_running_for_cancel(conn: Executor, run_id: UUID, action: str) -> bool:
    flagged = await conn.fetchval(
        "UPDATE runs SET cancel_action = $2, updated_at = now()"
        " WHERE run_id = $1 AND status = 'running' RETURNING run_id",
        run_id,
        action,
    )
    return flagged is not None


async def list_for_thread(
    conn: Executor, thread_id: UUID, *, limit: int, offset: int, status: str | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE thread_id = $1 AND ($2::text IS NULL OR status = $2)"
        " ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4",
        thread_id,
        status,
        limit,
        offset,
    )
    return rows


async def find(conn: Executor, tenant: str, run_id: UUID) -> asyncpg.Record | None:
    """A run by id alone (stateless runs are addressed without their thread)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM runs WHERE run_id = $1 AND tenant_id = $2", run_id, tenant
    )
    return row


async def delete_finished(conn: Executor, tenant: str, thread_id: UUID, run_id: UUID) -> str | None:
    """Delete a finished run. Returns its status, ``None`` if missing; active runs stay."""
    row = await conn.fetchrow(
        """
        WITH target AS (
            SELECT run_id, status FROM runs WHERE run_id = $1 AND thread_id = $2 AND tenant_id = $3
        ), deleted AS (
            DELETE FROM runs WHERE run_id IN (
                SELECT run_id FROM target WHERE status NOT IN ('pending', 'running'))
        )
        SELECT status FROM target
        """,
        run_id,
        thread_id,
        tenant,
    )
    return row["status"] if row is not None else None


async def active_ids(conn: Executor, tenant: str, status: str) -> list[UUID]:
    """Active runs of the tenant in ``pending``, ``running``, or ``all`` of them."""
    statuses = ["pending", "running"] if status == "all" else [status]
    rows = await conn.fetch(
        "SELECT run_id FROM runs WHERE tenant_id = $1 AND status = ANY($2::text[])",
        tenant,
        statuses,
    )
    return [row["run_id"] for row in rows]


async def active_among(
    conn: Executor, tenant: str, thread_id: UUID, run_ids: list[UUID]
) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT run_id FROM runs WHERE tenant_id = $1 AND thread_id = $2"
        " AND run_id = ANY($3::uuid[]) AND status IN ('pending', 'running')",
        tenant,
        thread_id,
        run_ids,
    )
    return [row["run_id"] for row in rows]
