"""API keys: every SQL statement on ``api_keys``, each with the function that runs it.

The API only looks keys up (:func:`live`); ``agentlist keys`` (the owner's) makes, lists and
revokes them."""

from __future__ import annotations

from typing import Final

import asyncpg

from agentlist.db.sql import Executor

INSERT: Final = """
INSERT INTO api_keys (key_id, tenant_id, name, scopes, secret_sha256)
VALUES ($1, $2, $3, $4, $5)
RETURNING key_id, tenant_id, name, scopes, created_at, revoked_at
"""


async def insert(
    conn: Executor, key_id: str, tenant: str, name: str, scopes: list[str], secret_sha256: bytes
) -> asyncpg.Record:
    row = await conn.fetchrow(INSERT, key_id, tenant, name, scopes, secret_sha256)
    assert row is not None  # INSERT ... RETURNING returns the row it wrote
    return row


# A revoked key is not found: the caller cannot tell it from one that never existed. Before
# the tenant is known: a SECURITY DEFINER function (migrations/0004_roles_and_rls.sql), the
# API's role having no right on api_keys itself.
LIVE: Final = "SELECT key_id, tenant_id, scopes, secret_sha256 FROM agentlist_live_api_key($1)"


async def live(conn: Executor, key_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(LIVE, key_id)
    return row


LIST: Final = """
SELECT key_id, tenant_id, name, scopes, created_at, revoked_at FROM api_keys
WHERE $1::text IS NULL OR tenant_id = $1
ORDER BY created_at DESC
"""


async def list_keys(conn: Executor, tenant: str | None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(LIST, tenant)
    return rows


REVOKE: Final = """
UPDATE api_keys SET revoked_at = now()
WHERE key_id = $1 AND revoked_at IS NULL
RETURNING key_id, tenant_id
"""


async def revoke(conn: Executor, key_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(REVOKE, key_id)
    return row
