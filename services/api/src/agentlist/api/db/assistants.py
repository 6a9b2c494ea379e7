"""Assistants: SQL and the shape clients receive."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.db.sql import Executor, Where, order_by

_COLUMNS = (
    "assistant_id, graph_id, config, context, metadata, version, name, description,"
    " created_at, updated_at"
)
_SORTABLE = frozenset({"assistant_id", "created_at", "updated_at", "name", "graph_id"})


def to_json(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "assistant_id": str(row["assistant_id"]),
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"],
        "metadata": row["metadata"],
        "version": row["version"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _visible(where: Where, tenant: str) -> Where:
    return where.add("tenant_id IN ({}, {})", tenant, SYSTEM_TENANT)


async def get(conn: Executor, tenant: str, assistant_id: UUID) -> asyncpg.Record | None:
    where = _visible(Where(), tenant).add("assistant_id = {}", assistant_id)
    row: asyncpg.Record | None = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM assistants WHERE {where.sql}",
        *where.args,
    )
    return row


def _filters(
    tenant: str, metadata: dict[str, Any] | None, graph_id: str | None, name: str | None
) -> Where:
    where = _visible(Where(), tenant)
    if metadata:
        where.add("metadata @> {}::jsonb", metadata)
    if graph_id:
        where.add("graph_id = {}", graph_id)
    if name:
        where.add("name ILIKE {}", f"%{name}%")
    return where


async def search(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    graph_id: str | None,
    name: str | None,
    limit: int,
    offset: int,
    sort_by: str | None,
    sort_order: str | None,
) -> tuple[list[asyncpg.Record], int]:
    """One page of matching assistants, and how many match in all."""
    where = _filters(tenant, metadata, graph_id, name)
    order = order_by(sort_by, sort_order, _SORTABLE, "created_at")
    total: int = await pool.fetchval(
        f"SELECT count(*) FROM assistants WHERE {where.sql}", *where.args
    )
    limit_param, offset_param = where.param(limit), where.param(offset)
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM assistants WHERE {where.sql}"
        f" ORDER BY {order}, assistant_id LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows, total


async def count(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    metadata: dict[str, Any] | None,
    graph_id: str | None,
    name: str | None,
) -> int:
    where = _filters(tenant, metadata, graph_id, name)
    total: int = await pool.fetchval(
        f"SELECT count(*) FROM assistants WHERE {where.sql}", *where.args
    )
    return total


async def graph_registered(pool: asyncpg.Pool, graph_id: str) -> bool:
    return bool(
        await pool.fetchval("SELECT EXISTS (SELECT 1 FROM graphs WHERE graph_id = $1)", graph_id)
    )


async def registered_graphs(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT graph_id FROM graphs ORDER BY graph_id")
    return [row["graph_id"] for row in rows]


_VERSION_COLUMNS = (
    "assistant_id, graph_id, config, context, metadata, version, name, description, created_at"
)


def version_to_json(row: asyncpg.Record) -> dict[str, Any]:
    """An AssistantVersion: an assistant as it was, with no ``updated_at``."""
    return {
        "assistant_id": str(row["assistant_id"]),
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"],
        "metadata": row["metadata"],
        "version": row["version"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
    }


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
        f"""
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
        """,
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


async def add_version(
    conn: Executor,
    tenant: str,
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
        f"""
        WITH current AS (
            SELECT * FROM assistants
            WHERE assistant_id = $1 AND tenant_id IN ($2, '{SYSTEM_TENANT}')
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
        RETURNING {", ".join("a." + c.strip() for c in _COLUMNS.split(","))}
        """,
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


async def set_latest(
    conn: Executor, tenant: str, assistant_id: UUID, version: int
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        f"""
        UPDATE assistants a
        SET graph_id = v.graph_id, name = v.name, description = v.description,
            config = v.config, context = v.context, metadata = v.metadata, version = v.version,
            updated_at = now()
        FROM assistant_versions v
        WHERE a.assistant_id = $1 AND a.tenant_id IN ($2, '{SYSTEM_TENANT}')
          AND v.assistant_id = a.assistant_id AND v.version = $3
        RETURNING {", ".join("a." + c.strip() for c in _COLUMNS.split(","))}
        """,
        assistant_id,
        tenant,
        version,
    )
    return row


async def versions(
    pool: asyncpg.Pool,
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
    rows: list[asyncpg.Record] = await pool.fetch(
        f"SELECT {_VERSION_COLUMNS} FROM assistant_versions WHERE {where.sql}"
        f" ORDER BY version DESC LIMIT {limit_param} OFFSET {offset_param}",
        *where.args,
    )
    return rows


async def delete(conn: Executor, tenant: str, assistant_id: UUID) -> bool:
    deleted = await conn.fetchval(
        f"DELETE FROM assistants WHERE assistant_id = $1 AND tenant_id IN ($2, '{SYSTEM_TENANT}')"
        " RETURNING assistant_id",
        assistant_id,
        tenant,
    )
    return deleted is not None


async def graph(pool: asyncpg.Pool, graph_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await pool.fetchrow(
        "SELECT graph_id, language, name, schemas, drawable, subgraphs FROM graphs"
        " WHERE graph_id = $1",
        graph_id,
    )
    return row
