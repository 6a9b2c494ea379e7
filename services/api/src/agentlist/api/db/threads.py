"""Threads: every SQL statement the API runs on them, each with the function that runs it."""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.api.auth.filters import Filter, to_sql
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.contracts.storage import ThreadStatus
from agentlist.db.sql import Executor, Where, order_by

_COLUMNS: Final = (
    "thread_id, graph_id, metadata, config, status, state_values, interrupts, error,"
    " ttl_minutes, ttl_strategy, created_at, updated_at, state_updated_at"
)

GET: Final = f"SELECT {_COLUMNS} FROM threads WHERE thread_id = $1 AND tenant_id = $2"
GET_LOCKED: Final = GET + " FOR UPDATE"


# Across tenants: a SECURITY DEFINER function (migrations/0004_roles_and_rls.sql).
EXISTS_ANYWHERE: Final = "SELECT agentlist_thread_exists($1)"


async def exists_anywhere(conn: Executor, thread_id: UUID) -> bool:
    """Whether the thread exists for some tenant or owner: asked only after a caller was told
    it does not, to tell a denial (audited) from a typo."""
    found: bool = await conn.fetchval(EXISTS_ANYWHERE, thread_id)
    return found


async def get(
    conn: Executor,
    tenant: str,
    thread_id: UUID,
    *,
    lock: bool = False,
    only: Filter | None = None,
) -> asyncpg.Record | None:
    """The thread, if the caller may see it: ``only`` is the authorization filter its metadata
    must match (a thread that does not is, to the caller, a thread that does not exist)."""
    if only is None:
        found: asyncpg.Record | None = await conn.fetchrow(
            GET_LOCKED if lock else GET, thread_id, tenant
        )
        return found
    where = Where().add("thread_id = {}", thread_id).add("tenant_id = {}", tenant)
    where.conditions.append(to_sql(only, where, "metadata"))
    lock_clause = " FOR UPDATE" if lock else ""
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM threads WHERE {where.sql}{lock_clause}", *where.args
    )
    return row


# $1 thread, $2 tenant, $3 assistant, $4 the system tenant (whose assistants every tenant uses).
LOCK_WITH_ASSISTANT: Final = """
SELECT t.config, t.metadata, a.assistant_id, a.graph_id,
       a.config AS assistant_config, a.context AS assistant_context,
       a.metadata AS assistant_metadata
FROM threads t
JOIN assistants a ON a.assistant_id = $3 AND a.tenant_id IN ($2, $4)
WHERE t.thread_id = $1 AND t.tenant_id = $2
FOR UPDATE OF t
"""


async def lock_with_assistant(
    conn: Executor, tenant: str, thread_id: UUID, assistant_id: UUID
) -> asyncpg.Record | None:
    """The thread's ``config`` and ``metadata``, locked, with the assistant a run on it uses
    (``assistant_*`` columns): one round trip. ``None`` when either is missing."""
    row: asyncpg.Record | None = await conn.fetchrow(
        LOCK_WITH_ASSISTANT, thread_id, tenant, assistant_id, SYSTEM_TENANT
    )
    return row


# $1 thread, $2 tenant, $3 metadata, $4 status, $5 graph, $6 TTL minutes (NULL: none, and no
# expiry), $7 TTL strategy.
INSERT: Final = f"""
INSERT INTO threads (thread_id, tenant_id, metadata, status, graph_id,
                     ttl_minutes, ttl_strategy, expires_at)
VALUES ($1, $2, $3, $4, $5, $6::float8, $7, now() + make_interval(secs => $6::float8 * 60))
ON CONFLICT (thread_id) DO NOTHING
RETURNING {_COLUMNS}
"""


async def insert(
    conn: Executor,
    tenant: str,
    thread_id: UUID,
    *,
    metadata: dict[str, Any],
    status: ThreadStatus = "idle",
    graph_id: str | None = None,
    ttl_minutes: float | None = None,
    ttl_strategy: str | None = None,
) -> asyncpg.Record | None:
    """Insert a thread; ``None`` when one with this id already exists."""
    row: asyncpg.Record | None = await conn.fetchrow(
        INSERT,
        thread_id,
        tenant,
        metadata,
        status,
        graph_id,
        ttl_minutes,
        ttl_strategy,
    )
    return row


DELETE_BY_METADATA: Final = (
    "DELETE FROM threads WHERE tenant_id = $1 AND metadata @> $2::jsonb RETURNING thread_id"
)


async def delete_by_metadata(
    conn: Executor, tenant: str, metadata: dict[str, Any], *, only: Filter | None = None
) -> list[UUID]:
    """Delete the tenant's threads whose metadata contains ``metadata`` (runs cascade), of
    those ``only`` lets the caller reach."""
    if only is None:
        rows = await conn.fetch(DELETE_BY_METADATA, tenant, metadata)
    else:
        where = _filters(tenant, metadata=metadata, only=only)
        statement = f"DELETE FROM threads WHERE {where.sql} RETURNING thread_id"
        rows = await conn.fetch(statement, *where.args)
    return [row["thread_id"] for row in rows]


_SORTABLE = frozenset({"thread_id", "status", "created_at", "updated_at", "state_updated_at"})


def _filters(
    tenant: str,
    *,
    metadata: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
    ids: list[UUID] | None = None,
    status: str | None = None,
    only: Filter | None = None,
) -> Where:
    where = Where().add("tenant_id = {}", tenant)
    if only is not None:
        where.conditions.append(to_sql(only, where, "metadata"))
    if metadata:
        where.add("metadata @> {}::jsonb", metadata)
    if values:
        where.add("state_values @> {}::jsonb", values)
    if ids:
        where.add("thread_id = ANY({}::uuid[])", ids)
    if status:
        where.add("status = {}", status)
    return where


async def search(
    conn: Executor,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    ids: list[UUID] | None,
    status: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
    only: Filter | None = None,
) -> tuple[list[asyncpg.Record], int]:
    where = _filters(tenant, metadata=metadata, values=values, ids=ids, status=status, only=only)
    order = order_by(sort_by, sort_order, _SORTABLE, "created_at")
    total: int = await conn.fetchval(f"SELECT count(*) FROM threads WHERE {where.sql}", *where.args)
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_COLUMNS} FROM threads WHERE {where.sql}"
        f" ORDER BY {order}, thread_id LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows, total


async def count(
    conn: Executor,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    values: dict[str, Any] | None,
    status: str | None,
    only: Filter | None = None,
) -> int:
    where = _filters(tenant, metadata=metadata, values=values, status=status, only=only)
    total: int = await conn.fetchval(f"SELECT count(*) FROM threads WHERE {where.sql}", *where.args)
    return total


# $1 thread, $2 tenant, $3 metadata merged in, $4 TTL minutes (also restarts the TTL), $5 TTL
# strategy; NULL keeps what the thread has.
PATCH: Final = f"""
UPDATE threads
SET metadata = metadata || coalesce($3::jsonb, '{{}}'),
    ttl_minutes = coalesce($4::float8, ttl_minutes),
    ttl_strategy = coalesce($5, ttl_strategy),
    expires_at = CASE WHEN $4::float8 IS NULL THEN expires_at
                      ELSE now() + make_interval(secs => $4::float8 * 60) END,
    updated_at = now()
WHERE thread_id = $1 AND tenant_id = $2
RETURNING {_COLUMNS}
"""


async def patch(
    conn: Executor,
    tenant: str,
    thread_id: UUID,
    *,
    metadata: dict[str, Any] | None,
    ttl_minutes: float | None,
    ttl_strategy: str | None,
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        PATCH,
        thread_id,
        tenant,
        metadata,
        ttl_minutes,
        ttl_strategy,
    )
    return row


DELETE: Final = "DELETE FROM threads WHERE thread_id = $1 AND tenant_id = $2 RETURNING thread_id"


async def delete(conn: Executor, tenant: str, thread_id: UUID) -> bool:
    return await conn.fetchval(DELETE, thread_id, tenant) is not None


# $1 source, $2 tenant, $3 the copy's id. The copy has no runs, so it is not busy.
COPY: Final = f"""
INSERT INTO threads (thread_id, tenant_id, graph_id, metadata, config, status,
                     state_values, interrupts, error, state_updated_at)
SELECT $3, tenant_id, graph_id, metadata, config,
       CASE WHEN status = 'busy' THEN 'idle' ELSE status END,
       state_values, interrupts, error, state_updated_at
FROM threads WHERE thread_id = $1 AND tenant_id = $2
RETURNING {_COLUMNS}
"""


async def copy(conn: Executor, tenant: str, source: UUID, target: UUID) -> asyncpg.Record | None:
    """A new thread with the source's metadata, config and state (not its runs)."""
    row: asyncpg.Record | None = await conn.fetchrow(COPY, source, tenant, target)
    return row


EXISTING_IDS: Final = (
    "SELECT thread_id FROM threads WHERE tenant_id = $1 AND thread_id = ANY($2::uuid[])"
)


async def existing_ids(
    conn: Executor, tenant: str, thread_ids: list[UUID], *, only: Filter | None = None
) -> list[UUID]:
    if not thread_ids:
        return []
    if only is None:
        rows = await conn.fetch(EXISTING_IDS, tenant, thread_ids)
    else:
        where = _filters(tenant, ids=thread_ids, only=only)
        rows = await conn.fetch(f"SELECT thread_id FROM threads WHERE {where.sql}", *where.args)
    return [row["thread_id"] for row in rows]


# $1 thread, $2 values, $3 interrupts, $4 text[] the nodes left to run. A busy thread stays
# busy: its run's outcome sets the status.
TOUCH_STATE: Final = """
UPDATE threads
SET state_values = $2, interrupts = $3, state_updated_at = now(), updated_at = now(),
    status = CASE WHEN status = 'busy' THEN status
                  WHEN cardinality($4::text[]) > 0 THEN 'interrupted' ELSE 'idle' END
WHERE thread_id = $1
"""


async def touch_state(
    conn: Executor, thread_id: UUID, values: Any, interrupts: Any, next_nodes: list[str]
) -> None:
    """After ``update_state``: the thread shows the new values (and is interrupted if the
    graph has nodes left to run)."""
    await conn.execute(TOUCH_STATE, thread_id, values, interrupts, next_nodes)
