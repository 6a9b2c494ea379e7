"""Postgres pools and the schema migrations every service applies at start-up."""

from __future__ import annotations

import asyncio
import logging
from importlib import resources
from typing import Any

import asyncpg
import orjson

from agentlist.shared.loops import until_done

logger = logging.getLogger(__name__)

# An arbitrary constant shared by every service: only one of them migrates at a time.
MIGRATION_LOCK_KEY = 0x6167_6C69_7374  # "aglist"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose ``json``/``jsonb`` columns read and write Python values."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("agentlist.shared") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction, under an
    advisory lock so that services starting together do not race. Returns what was applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS agentlist_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"] for r in await conn.fetch("SELECT version FROM agentlist_migrations")
            }
            for version, name, sql in _migrations():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO agentlist_migrations (version, name) VALUES ($1, $2)",
                        version,
                        name,
                    )
                logger.info("applied migration %s", name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    return applied


async def open_when_reachable(
    dsn: str, stop: asyncio.Event, *, max_size: int, most_backoff: float
) -> asyncpg.Pool | None:
    """A migrated pool once Postgres answers (a server still starting is normal); None if
    ``stop`` came first."""
    pool = await until_done(
        "postgres", lambda: create_pool(dsn, max_size=max_size), stop, most_backoff
    )
    if pool is None:
        return None
    if await until_done("migrations", lambda: migrate(pool), stop, most_backoff) is None:
        await pool.close()
        return None
    return pool
