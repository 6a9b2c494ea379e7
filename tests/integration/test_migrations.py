"""The migration runner against a real Postgres: every file is applied once, in order; a file
that changed after it was applied stops the start with an error naming it, and nothing of that
start is applied.

Each test migrates a database of its own from a copy of the migrations that it may edit;
everything else runs as in a service.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from serverkit import own_database

from agentlist.core.lifecycle import FatalError
from agentlist.db.pool import MIGRATION_LOCK_KEY, create_pool, migrate, migrations
from agentlist.launcher import Stack

PROBE_TABLE = "migration_probe"
"""Created by the file a test adds: present once (and only once) that file was applied."""


@pytest_asyncio.fixture
async def dsn(servers: Stack) -> AsyncIterator[str]:
    async with own_database(servers.database_url, "migrations") as url:
        yield url


@pytest_asyncio.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the package's migrations."""
    copy = tmp_path / "migrations"
    copy.mkdir()
    for migration in migrations():
        (copy / migration.name).write_text(migration.sql)
    return copy


def file_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.sql"))


def add_file(folder: Path, sql: str) -> Path:
    """A new migration after the last one in ``folder``."""
    last = max(int(name.split("_", 1)[0]) for name in file_names(folder))
    path = folder / f"{last + 1:04d}_test_probe.sql"
    path.write_text(sql)
    return path


async def table_exists(pool: asyncpg.Pool, table: str) -> bool:
    return bool(await pool.fetchval("SELECT to_regclass($1) IS NOT NULL", table))


async def applied(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch(
        "SELECT version, name, checksum FROM agentlist_migrations ORDER BY version"
    )
    return [(row["version"], row["name"], row["checksum"]) for row in rows]


async def lock_is_free(dsn: str) -> bool:
    """Whether another session could take the migration lock now."""
    conn = await asyncpg.connect(dsn)
    try:
        taken = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", MIGRATION_LOCK_KEY))
        if taken:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        return taken
    finally:
        await conn.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_text().encode()).hexdigest()


async def test_a_new_file_is_applied_once_after_those_already_applied(
    pool: asyncpg.Pool, folder: Path
) -> None:
    assert await migrate(pool, folder) == file_names(folder)

    added = add_file(folder, f"CREATE TABLE {PROBE_TABLE} (id integer);")
    assert await migrate(pool, folder) == [added.name]
    assert await table_exists(pool, PROBE_TABLE)
    assert (await applied(pool))[-1][1:] == (added.name, sha256(added))

    assert await migrate(pool, folder) == [], "a file is applied once"


async def test_a_changed_applied_file_is_refused_by_name_and_nothing_is_applied(
    dsn: str, pool: asyncpg.Pool, folder: Path
) -> None:
    await migrate(pool, folder)
    before = await applied(pool)
    changed = folder / before[-1][1]
    original = changed.read_text()
    changed.write_text(f"{original}\nCREATE TABLE changed_after_applying (id integer);\n")
    added = add_file(folder, f"CREATE TABLE {PROBE_TABLE} (id integer);")
    # Sorted before every applied file: the refusal must come before any file is applied.
    earlier = folder / "0000_early_probe.sql"
    earlier.write_text("CREATE TABLE early_probe (id integer);")

    with pytest.raises(FatalError, match=re.escape(changed.name)):
        await migrate(pool, folder)

    assert await applied(pool) == before
    assert not await table_exists(pool, "changed_after_applying")
    assert not await table_exists(pool, PROBE_TABLE), "a later file was applied anyway"
    assert not await table_exists(pool, "early_probe"), "an earlier new file was applied anyway"
    assert await lock_is_free(dsn), "the refusal kept the migration lock"

    changed.write_text(original)
    assert await migrate(pool, folder) == [earlier.name, added.name]
