"""LangGraph's own Postgres tables (checkpointer, store), as the API and the workers open them."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.postgres.aio import AsyncPostgresStore
from psycopg import AsyncConnection
from psycopg.errors import InsufficientPrivilege
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from agentlist.contracts.storage import LANGGRAPH_SETUP_LOCK

LangGraphPool = AsyncConnectionPool[AsyncConnection[DictRow]]

_SETUP_LOCK_POLL_SECONDS = 0.05


class LangGraphTablesMissingError(RuntimeError):
    """The tables are behind this LangGraph and only the owner may set them up."""


# A session lock, taken without waiting (see _take_setup_lock).
_TRY_SETUP_LOCK: Final = "SELECT pg_try_advisory_lock(%s)"
_SETUP_UNLOCK: Final = "SELECT pg_advisory_unlock(%s)"

# Two statements: a query naming a missing table fails while it is planned.
_TABLES_EXIST: Final = """
SELECT to_regclass('checkpoint_migrations') IS NOT NULL
   AND to_regclass('store_migrations') IS NOT NULL
"""
# %s, %s: the versions of the checkpointer's and the store's last migrations.
_VERSIONS_REACHED: Final = """
SELECT (SELECT coalesce(max(v), -1) FROM checkpoint_migrations) >= %s
   AND (SELECT coalesce(max(v), -1) FROM store_migrations) >= %s
"""

# What LangGraph's Postgres classes expect of the connections they are given.
_CONNECTION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "prepare_threshold": 0,
    "row_factory": dict_row,
}


async def open_pool(database_url: str, max_size: int) -> LangGraphPool:
    pool: LangGraphPool = AsyncConnectionPool(
        database_url, min_size=1, max_size=max_size, kwargs=_CONNECTION_KWARGS, open=False
    )
    await pool.open(wait=True, timeout=30)
    return pool


async def setup_tables(
    database_url: str, checkpointer: AsyncPostgresSaver, store: AsyncPostgresStore
) -> None:
    """``setup()`` of the checkpointer and the store, one process at a time, unless their
    tables are already at this LangGraph's version: ``setup()`` creates its migrations' table
    even then, which only the owner may (the services' roles have no CREATE)."""
    async with await AsyncConnection.connect(database_url, autocommit=True) as lock_conn:
        if await _set_up(lock_conn, checkpointer, store):
            return
        await _take_setup_lock(lock_conn)
        try:
            await checkpointer.setup()
            await store.setup()
        except InsufficientPrivilege as exc:
            raise LangGraphTablesMissingError(
                "LangGraph's checkpoint and store tables are not set up, and this role may not"
                " create them: run `agentlist migrate` as the database's owner"
            ) from exc
        finally:
            await lock_conn.execute(_SETUP_UNLOCK, (LANGGRAPH_SETUP_LOCK,))


async def _set_up(
    conn: AsyncConnection[Any], checkpointer: AsyncPostgresSaver, store: AsyncPostgresStore
) -> bool:
    exist = await (await conn.execute(_TABLES_EXIST)).fetchone()
    if exist is None or not exist[0]:
        return False
    latest = (len(checkpointer.MIGRATIONS) - 1, len(store.MIGRATIONS) - 1)
    reached = await (await conn.execute(_VERSIONS_REACHED, latest)).fetchone()
    return reached is not None and bool(reached[0])


async def _take_setup_lock(conn: AsyncConnection[Any]) -> None:
    """Polled, never waited for in ``pg_advisory_lock``: a session waiting there holds a
    snapshot, and the holder's ``CREATE INDEX CONCURRENTLY`` (in ``setup()``) waits for every
    older snapshot to end. That deadlock passes through the holder's client, so Postgres never
    breaks it."""
    while True:
        cursor = await conn.execute(_TRY_SETUP_LOCK, (LANGGRAPH_SETUP_LOCK,))
        row = await cursor.fetchone()
        if row is not None and row[0]:
            return
        await asyncio.sleep(_SETUP_LOCK_POLL_SECONDS)


async def set_up_tables(database_url: str) -> None:
    """The owner's side of :func:`setup_tables`: LangGraph's tables at this LangGraph's version,
    before any service opens them (``agentlist migrate``)."""
    pool = await open_pool(database_url, 2)
    try:
        await setup_tables(database_url, AsyncPostgresSaver(pool), AsyncPostgresStore(pool))
    finally:
        await pool.close()
