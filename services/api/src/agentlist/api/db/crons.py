"""Crons: every SQL statement on them, each with the function that runs it. The scheduler
fires them (its own queries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.api.auth.filters import Filter, to_sql
from agentlist.db.sql import Executor, Where, order_by

_COLUMNS: Final = (
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


INSERT: Final = f"""
INSERT INTO crons (cron_id, tenant_id, assistant_id, thread_id, schedule, timezone,
                   payload, run_template, metadata, enabled, on_run_completed, end_time,
                   next_run_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING {_COLUMNS}
"""


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
        INSERT,
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


# $1 cron, $2 tenant; with its run template, which updates start from.
GET: Final = f"SELECT {_COLUMNS}, run_template FROM crons WHERE cron_id = $1 AND tenant_id = $2"
GET_LOCKED: Final = GET + " FOR UPDATE"


async def get(
    conn: Executor, tenant: str, cron_id: UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET_LOCKED if lock else GET, cron_id, tenant)
    return row


# $1 cron; every field a client may change, and the next run date they give.
UPDATE: Final = f"""
UPDATE crons
SET schedule = $2, timezone = $3, payload = $4, run_template = $5, metadata = $6,
    enabled = $7, on_run_completed = $8, end_time = $9, next_run_date = $10,
    updated_at = now()
WHERE cron_id = $1
RETURNING {_COLUMNS}
"""


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
        UPDATE,
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


DELETE: Final = "DELETE FROM crons WHERE cron_id = $1 AND tenant_id = $2 RETURNING cron_id"


async def delete(conn: Executor, tenant: str, cron_id: UUID) -> bool:
    return await conn.fetchval(DELETE, cron_id, tenant) is not None


def _filters(
    tenant: str,
    *,
    assistant_id: UUID | None,
    thread_id: UUID | None,
    enabled: bool | None,
    metadata: dict[str, Any] | None,
    only: Filter | None = None,
) -> Where:
    where = Where().add("tenant_id = {}", tenant)
    if only is not None:
        where.conditions.append(to_sql(only, where, "metadata"))
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
    conn: Executor,
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
    only: Filter | None = None,
) -> tuple[list[asyncpg.Record], int]:
    where = _filters(
        tenant,
        assistant_id=assistant_id,
        thread_id=thread_id,
        enabled=enabled,
        metadata=metadata,
        only=only,
    )
    order = order_by(sort_by, sort_order, _SORTABLE, "created_at")
    total: int = await conn.fetchval(f"SELECT count(*) FROM crons WHERE {where.sql}", *where.args)
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS} FROM crons WHERE {where.sql}"
        f" ORDER BY {order}, cron_id LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows, total


async def count(
    conn: Executor,
    tenant: str,
    *,
    assistant_id: UUID | None,
    thread_id: UUID | None,
    metadata: dict[str, Any] | None,
    only: Filter | None = None,
) -> int:
    where = _filters(
        tenant,
        assistant_id=assistant_id,
        thread_id=thread_id,
        enabled=None,
        metadata=metadata,
        only=only,
    )
    total: int = await conn.fetchval(f"SELECT count(*) FROM crons WHERE {where.sql}", *where.args)
    return total
