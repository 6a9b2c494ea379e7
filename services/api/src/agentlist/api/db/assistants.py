"""Assistants: every SQL statement on them, each with the function that runs it.

A tenant sees its own assistants and the system tenant's (one per graph, made by the registry),
but changes only its own: the system tenant's only an operator changes (``writable``).
"""

from __future__ import annotations

from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.api.auth.filters import Filter, to_sql
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.db.sql import Executor, Where, order_by

_COLUMNS: Final = (
    "assistant_id, graph_id, config, context, metadata, version, name, description,"
    " created_at, updated_at"
)
_A_COLUMNS: Final = ", ".join("a." + c.strip() for c in _COLUMNS.split(","))
_SORTABLE = frozenset({"assistant_id", "created_at", "updated_at", "name", "graph_id"})


def _visible(where: Where, tenant: str) -> Where:
    return where.add("tenant_id IN ({}, {})", tenant, SYSTEM_TENANT)


# $1 tenant, $2 the system tenant, $3 assistant.
GET: Final = (
    f"SELECT {_COLUMNS}, tenant_id FROM assistants"
    " WHERE tenant_id IN ($1, $2) AND assistant_id = $3"
)


async def get(conn: Executor, tenant: str, assistant_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET, tenant, SYSTEM_TENANT, assistant_id)
    return row


def is_system(row: asyncpg.Record) -> bool:
    """Whether ``row`` (from :func:`get`) is a graph's system assistant, shared by every tenant."""
    return bool(row["tenant_id"] == SYSTEM_TENANT)


def writable(tenant: str, *, operator: bool) -> list[str]:
    """The tenants whose assistants a caller of ``tenant`` may change: an operator's include
    the system tenant's."""
    return [tenant, SYSTEM_TENANT] if operator else [tenant]


def _filters(
    tenant: str,
    metadata: dict[str, Any] | None,
    graph_id: str | None,
    name: str | None,
    only: Filter | None = None,
) -> Where:
    where = _visible(Where(), tenant)
    if only is not None:
        where.conditions.append(to_sql(only, where, "metadata"))
    if metadata:
        where.add("metadata @> {}::jsonb", metadata)
    if graph_id:
        where.add("graph_id = {}", graph_id)
    if name:
        where.add("name ILIKE {}", f"%{name}%")
    return where


async def search(
    conn: Executor,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    graph_id: str | None,
    name: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
    only: Filter | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """One page of matching assistants, and how many match in all (``only``: the caller's
    authorization filter)."""
    where = _filters(tenant, metadata, graph_id, name, only)
    order = order_by(sort_by, sort_order, _SORTABLE, "created_at")
    total: int = await conn.fetchval(
        f"SELECT count(*) FROM assistants WHERE {where.sql}", *where.args
    )
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM assistants WHERE {where.sql}"
        f" ORDER BY {order}, assistant_id LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows, total


async def count(
    conn: Executor,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    graph_id: str | None,
    name: str | None,
    only: Filter | None = None,
) -> int:
    where = _filters(tenant, metadata, graph_id, name, only)
    total: int = await conn.fetchval(
        f"SELECT count(*) FROM assistants WHERE {where.sql}", *where.args
    )
    return total


GRAPH_REGISTERED: Final = "SELECT EXISTS (SELECT 1 FROM graphs WHERE graph_id = $1)"


async def graph_registered(pool: asyncpg.Pool, graph_id: str) -> bool:
    return bool(await pool.fetchval(GRAPH_REGISTERED, graph_id))


REGISTERED_GRAPHS: Final = "SELECT graph_id FROM graphs ORDER BY graph_id"


async def registered_graphs(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(REGISTERED_GRAPHS)
    return [row["graph_id"] for row in rows]


_VERSION_COLUMNS: Final = (
    "assistant_id, graph_id, config, context, metadata, version, name, description, created_at"
)

# An assistant and its version 1 in one statement; no row when the id is taken.
#   $1 assistant, $2 tenant, $3 graph, $4 name, $5 description, $6 config, $7 context,
#   $8 metadata.
INSERT: Final = f"""
WITH created AS (
    INSERT INTO assistants (assistant_id, tenant_id, graph_id, name, description, config,
                            context, metadata)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (assistant_id) DO NOTHING
    RETURNING *
), version AS (
    INSERT INTO assistant_versions (assistant_id, version, tenant_id, graph_id, name,
                                    description, config, context, metadata, created_at)
    SELECT assistant_id, 1, tenant_id, graph_id, name, description, config, context,
           metadata, created_at
    FROM created
)
SELECT {_COLUMNS} FROM created
"""


async def insert(
    conn: Executor,
    tenant: str,
    assistant_id: UUID,
    *,
    graph_id: str,
    name: str,
    description: str | None,
    config: dict[str, Any],
    context: dict[str, Any],
    metadata: dict[str, Any],
) -> asyncpg.Record | None:
    """Insert an assistant and its version 1; ``None`` when the id is taken."""
    row: asyncpg.Record | None = await conn.fetchrow(
        INSERT,
        assistant_id,
        tenant,
        graph_id,
        name,
        description,
        config,
        context,
        metadata,
    )
    return row


# $1 assistant, $2 the tenants the caller may change; $3 graph, $4 name, $5 description,
# $6 config, $7 context: NULL keeps the current value; $8 metadata is merged into the current.
# * current: the assistant, if the caller may change it, locked.
# * next: the number after its latest version.
# * version: the new version, made from the current one.
# The UPDATE makes the new version the assistant's current one.
ADD_VERSION: Final = f"""
WITH current AS (
    SELECT * FROM assistants
    WHERE assistant_id = $1 AND tenant_id = ANY($2::text[])
    FOR UPDATE
), next AS (
    SELECT coalesce(max(v.version), 0) + 1 AS version
    FROM assistant_versions v JOIN current c USING (assistant_id)
), version AS (
    INSERT INTO assistant_versions (assistant_id, version, tenant_id, graph_id, name,
                                    description, config, context, metadata)
    SELECT c.assistant_id, n.version, c.tenant_id, coalesce($3, c.graph_id),
           coalesce($4, c.name), coalesce($5, c.description), coalesce($6, c.config),
           coalesce($7, c.context), c.metadata || coalesce($8::jsonb, '{{}}')
    FROM current c, next n
    RETURNING *
)
UPDATE assistants a
SET graph_id = v.graph_id, name = v.name, description = v.description,
    config = v.config, context = v.context, metadata = v.metadata, version = v.version,
    updated_at = now()
FROM version v
WHERE a.assistant_id = v.assistant_id
RETURNING {_A_COLUMNS}
"""


async def add_version(
    conn: Executor,
    writable: list[str],
    assistant_id: UUID,
    *,
    graph_id: str | None,
    name: str | None,
    description: str | None,
    config: dict[str, Any] | None,
    context: dict[str, Any] | None,
    metadata: dict[str, Any] | None,
) -> asyncpg.Record | None:
    """A new version made from the latest with the given fields replaced (metadata merged),
    which becomes the assistant's current version."""
    row: asyncpg.Record | None = await conn.fetchrow(
        ADD_VERSION,
        assistant_id,
        writable,
        graph_id,
        name,
        description,
        config,
        context,
        metadata,
    )
    return row


# $1 assistant, $2 the tenants the caller may change, $3 the version that becomes the current
# one again.
SET_LATEST: Final = f"""
UPDATE assistants a
SET graph_id = v.graph_id, name = v.name, description = v.description,
    config = v.config, context = v.context, metadata = v.metadata, version = v.version,
    updated_at = now()
FROM assistant_versions v
WHERE a.assistant_id = $1 AND a.tenant_id = ANY($2::text[])
  AND v.assistant_id = a.assistant_id AND v.version = $3
RETURNING {_A_COLUMNS}
"""


async def set_latest(
    conn: Executor, writable: list[str], assistant_id: UUID, version: int
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(SET_LATEST, assistant_id, writable, version)
    return row


async def versions(
    conn: Executor,
    tenant: str,
    assistant_id: UUID,
    *,
    metadata: dict[str, Any] | None,
    limit: int,
    offset: int,
) -> list[asyncpg.Record]:
    where = Where().add("assistant_id = {}", assistant_id)
    where.add("tenant_id IN ({}, {})", tenant, SYSTEM_TENANT)
    if metadata:
        where.add("metadata @> {}::jsonb", metadata)
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows: list[asyncpg.Record] = await conn.fetch(
        f"SELECT {_VERSION_COLUMNS} FROM assistant_versions WHERE {where.sql}"
        f" ORDER BY version DESC LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows


# $1 assistant, $2 the tenants the caller may change (its versions go by cascade).
DELETE: Final = (
    "DELETE FROM assistants WHERE assistant_id = $1 AND tenant_id = ANY($2::text[])"
    " RETURNING assistant_id"
)


async def delete(conn: Executor, writable: list[str], assistant_id: UUID) -> bool:
    return await conn.fetchval(DELETE, assistant_id, writable) is not None


GRAPH: Final = (
    "SELECT graph_id, language, name, schemas, drawable, subgraphs FROM graphs WHERE graph_id = $1"
)


async def graph(pool: asyncpg.Pool, graph_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(GRAPH, graph_id)
    return row
