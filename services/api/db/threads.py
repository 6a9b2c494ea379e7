"""Threads: SQL and the shape clients receive."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from agentlist.api.db._sql import Executor

_COLUMNS = (
    "thread_id, graph_id, metadata, config, status, state_values, interrupts, error,"
    " ttl_minutes, ttl_strategy, created_at, updated_at, state_updated_at"
)


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "thread_id": str(row["thread_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "state_updated_at": row["state_updated_at"],
        "metadata": row["metadata"],
        "config": row["config"],
        "status": row["status"],
        "values": row["state_values"],
        "interrupts": row["interrupts"],
        "error": row["error"],
    }


async def get(
    conn: Executor, tenant: str, thread_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM threads WHERE thread_id = $1 AND tenant_id = $2{suffix}",
        thread_id,
        tenant,
    )
    return row


async def insert(
    conn: Executor,
    tenant: str,
    thread_id: UUID,
    *,
    metadata: dict[str, Any],
    status: str = "idle",
    graph_id: str | None = None,
    ttl_minutes: float | None = None,
    ttl_strategy: str | None = None,
) -> asyncpg.Record | None:
    """Insert a thread; ``None`` when one with this id already exists."""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        INSERT INTO threads (thread_id, tenant_id, metadata, status, graph_id,
                             ttl_minutes, ttl_strategy, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6::float8, $7, now() + make_interval(secs => $6::float8 * 60))
        ON CONFLICT (thread_id) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        thread_id,
        tenant,
        metadata,
        status,
        graph_id,
        ttl_minutes,
        ttl_strategy,
    )
    return row


async def mark_busy(
    conn: Executor, thread_id: UUID, *, graph_id: str, metadata_stamp: dict[str, Any]
) -> None:
    """A run was queued: the thread is busy, and remembers which graph and assistant ran it."""
    await conn.execute(
        """
        UPDATE threads
        SET status = 'busy', graph_id = $2, metadata = metadata || $3::jsonb, updated_at = now()
        WHERE thread_id = $1
        """,
        thread_id,
        graph_id,
        metadata_stamp,
    )


async def delete_by_metadata(conn: Executor, tenant: str, metadata: dict[str, Any]) -> list[UUID]:
    """Delete the tenant's threads whose metadata contains ``metadata`` (runs cascade)."""
    rows = await conn.fetch(
        "DELETE FROM threads WHERE tenant_id = $1 AND metadata @> $2::jsonb RETURNING thread_id",
        tenant,
        metadata,
    )
    return [row["thread_id"] for row in rows]
