"""Crons: SQL and the shape clients receive."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from agentlist.db.sql import Executor, Where, order_by

_COLUMNS = (
    "cron_id, assistant_id, thread_id, schedule, timezone, payload, metadata, enabled,"
    " on_run_completed, end_time, next_run_date, user_id, created_at, updated_at"
)
_SORTABLE = frozenset(
    {
        "cron_id",
        "assistant_id",
        "thread_id",
        "next_run_date",
        "end_time",
        "created_at",
        "updated_at",
    }
)


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "cron_id": str(row["cron_id"]),
        "assistant_id": str(row["assistant_id"]),
        "thread_id": str(row["thread_id"]) if row["thread_id"] else None,
        "on_run_completed": row["on_run_completed"],
        "end_time": row["end_time"],
        "schedule": row["schedule"],
        "timezone": row["timezone"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "payload": row["payload"],
        "user_id": row["user_id"],
        "next_run_date": row["next_run_date"],
        "metadata": row["metadata"],
        "enabled": row["enabled"],
    }


async def insert(
    conn: Executor,
    *,
    cron_id: UUID,
    tenant: str,
    assistant_id: UUID,
    thread_id: UUID | None,
    schedule: str,
    timezone: str,
    payload: dict[str, Any],
    run_template: dict[str, Any],
    metadata: dict[str, Any],
    enabled: bool,
    on_run_completed: str,
    end_time: datetime | None,
    next_run_date: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        INSERT INTO crons (cron_id, tenant_id, assistant_id, thread_id, schedule, timezone,
                           payload, run_template, metadata, enabled, on_run_completed, end_time,
                           next_run_date)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        RETURNING {_COLUMNS}
        """,
        cron_id,
        tenant,
        assistant_id,
        thread_id,
        schedule,
        timezone,
        payload,
        run_template,
        metadata,
        enabled,
        on_run_completed,
        end_time,
        next_run_date,
    )
    assert row is not None
    return row


async def get(
    conn: Executor, tenant: str, cron_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS}, run_template FROM crons WHERE cron_id = $1 AND tenant_id = $2{suffix}",
        cron_id,
        tenant,
    )
    return row


async def update(
    conn: Executor,
    cron_id: UUID,
    *,
    schedule: str,
    timezone: str,
    payload: dict[str, Any],
    run_template: dict[str, Any],
    metadata: dict[str, Any],
    enabled: bool,
    on_run_completed: str,
    end_time: datetime | None,
    next_run_date: datetime,
) -> asyncpg.Record:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        UPDATE crons
        SET schedule = $2, timezone = $3, payload = $4, run_template = $5, metadata = $6,
            enabled = $7, on_run_completed = $8, end_time = $9, next_run_date = $10,
            updated_at = now()
        WHERE cron_id = $1
        RETURNING {_COLUMNS}
        """,
        cron_id,
        schedule,
        timezone,
        payload,
        run_template,
        metadata,
        enabled,
        on_run_completed,
        end_time,
        next_run_date,
    )
    assert row is not None
    return row


async def delete(conn: Executor, tenant: str, cron_id: UUID) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM crons WHERE cron_id = $1 AND tenant_id = $2 RETURNING cron_id", cron_id, tenant
    )
    return deleted is not None


def _filters(
    tenant: str,
    *,
    assistant_id: UUID | None,
    thread_id: UUID | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
) -> Where:
    where = Where().add("tenant_id = {}", tenant)
    if assistant_id is not None:
        where.add("assistant_id = {}", assistant_id)
    if thread_id is not None:
        where.add("thread_id = {}", thread_id)
    if enabled is not None:
        where.add("enabled = {}", enabled)
    if metadata:
        where.add("metadata @> {}::jsonb", metadata)
    return where


async def search(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    assistant_id: UUID | None,
    thread_id: UUID | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
) -> tuple[list[asyncpg.Record], int]:
    where = _filters(
        tenant, assistant_id=assistant_id, thread_id=thread_id, enabled=enabled, metadata=metadata
    )
    order = order_by(sort_by, sort_order, _SORTABLE, "created_at")
    total: int = await pool.fetchval(f"SELECT count(*) FROM crons WHERE {where.sql}", *where.args)
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {_COLUMNS} FROM crons WHERE {where.sql}"
        f" ORDER BY {order}, cron_id LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows, total


async def count(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    assistant_id: UUID | None,
    thread_id: UUID | None,
    metadata: dict[str, Any] | None,
) -> int:
    where = _filters(
        tenant, assistant_id=assistant_id, thread_id=thread_id, enabled=None, metadata=metadata
    )
    total: int = await pool.fetchval(f"SELECT count(*) FROM crons WHERE {where.sql}", *where.args)
    return total
