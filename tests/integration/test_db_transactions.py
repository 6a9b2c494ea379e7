"""Transactions whose BEGIN or COMMIT carries a statement in the same round trip, against a real
Postgres: the statement runs where it says, and an error rolls the whole back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from serverkit import own_database

from agentlist.db.pool import create_pool, transaction_begun_with, transaction_then
from agentlist.launcher import Stack

FOUND_ONE = "SELECT 1 FROM probe WHERE x = 1 LIMIT 1"


@pytest_asyncio.fixture
async def pool(servers: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with own_database(servers.database_url, "transactions") as dsn:
        pool = await create_pool(dsn, max_size=2)
        await pool.execute("CREATE TABLE probe (x int)")
        yield pool
        await pool.close()


async def test_the_statement_after_commit_sees_the_commit(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with transaction_then(conn, FOUND_ONE) as nothing_yet:
            await conn.execute("INSERT INTO probe VALUES (2)")
        assert not nothing_yet.found_rows
        async with transaction_then(conn, FOUND_ONE) as committed:
            await conn.execute("INSERT INTO probe VALUES (1)")
            assert committed.status == ""  # known once the block has left
        assert committed.found_rows
        assert not conn.is_in_transaction()


async def test_the_statement_after_commit_is_outside_the_transaction(pool: asyncpg.Pool) -> None:
    # The transaction wrote, so it has an id; the statement after its commit runs in a
    # transaction of its own, which has none.
    outside = "SELECT 1 WHERE pg_current_xact_id_if_assigned() IS NULL"
    async with pool.acquire() as conn:
        async with transaction_then(conn, outside) as committed:
            await conn.execute("INSERT INTO probe VALUES (1)")
            assert await conn.fetchval("SELECT pg_current_xact_id_if_assigned()") is not None
        assert committed.found_rows


async def test_an_error_rolls_back_and_runs_nothing_after(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with transaction_then(conn, FOUND_ONE) as committed:
                await conn.execute("INSERT INTO probe VALUES (1)")
                raise RuntimeError("the caller failed")
        assert committed.status == ""
        assert not conn.is_in_transaction()
    assert await pool.fetchval("SELECT count(*) FROM probe") == 0


async def test_the_statement_with_begin_runs_inside_the_transaction(pool: asyncpg.Pool) -> None:
    setting = "SELECT set_config('app.probe', 'inside', true)"
    async with pool.acquire() as conn:
        async with transaction_begun_with(conn, setting):
            assert conn.is_in_transaction()
            assert await conn.fetchval("SELECT current_setting('app.probe', true)") == "inside"
        assert not conn.is_in_transaction()
        # Transaction-local: gone with the commit.
        assert await conn.fetchval("SELECT current_setting('app.probe', true)") in ("", None)
