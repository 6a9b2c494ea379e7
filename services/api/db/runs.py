"""Runs: SQL and the shape clients receive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from agentlist.api.db._sql import Executor

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


async def insert(conn: Executor, run: NewRun) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, metadata, kwargs,
                          multitask_strategy, on_completion, webhook, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                now() + make_interval(secs => $11::float8), now())
        RETURNING {_COLUMNS}
        """,
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
    )
    assert row is not None  # INSERT ... RETURNING always returns the row
    return row


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
