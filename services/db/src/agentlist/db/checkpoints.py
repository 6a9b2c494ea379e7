"""LangGraph's checkpoint tables, as far as the mesh must touch them without graph code.

The tables are created by the workers' checkpointer (``langgraph-checkpoint-postgres``); a
database where no worker has started yet has none, and then there is nothing to copy or delete.
Columns are read from the catalogue so that a new checkpointer column is carried along.
"""

from __future__ import annotations

from typing import Final

from agentlist.db.sql import Executor

CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")

# The statements below are templates: ``{table}`` and ``{columns}`` are filled from
# CHECKPOINT_TABLES and the catalogue only, never from input.

TABLES_EXIST: Final = "SELECT to_regclass('checkpoints') IS NOT NULL"

DELETE_THREAD: Final = "DELETE FROM {table} WHERE thread_id = $1"

# $1 table: its columns, in order.
COLUMNS_OF: Final = """
SELECT column_name FROM information_schema.columns
 WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position
"""

# $1 source thread, $2 target thread: {selected} is {columns} with thread_id made $2.
COPY_THREAD: Final = (
    "INSERT INTO {table} ({columns}) SELECT {selected} FROM {table} WHERE thread_id = $1"
)

# The copy's checkpoints say which thread they belong to, like the originals did.
RETARGETED_METADATA: Final = (
    "CASE WHEN metadata ? 'thread_id'"
    " THEN jsonb_set(metadata, '{thread_id}', to_jsonb($2::text)) ELSE metadata END"
)

# $1 thread: all but the latest checkpoint of each namespace.
KEEP_LATEST: Final = """
DELETE FROM {table} WHERE thread_id = $1 AND checkpoint_id NOT IN (
    SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = $1 GROUP BY checkpoint_ns)
"""


async def _tables_exist(conn: Executor) -> bool:
    return bool(await conn.fetchval(TABLES_EXIST))


async def delete_thread_checkpoints(conn: Executor, thread_id: str) -> None:
    """Delete every checkpoint of a thread (what ``adelete_thread`` does)."""
    if await _tables_exist(conn):
        for table in CHECKPOINT_TABLES:
            await conn.execute(DELETE_THREAD.format(table=table), thread_id)


async def copy_thread_checkpoints(conn: Executor, source: str, target: str) -> None:
    """Copy a thread's checkpoints, blobs and writes to another thread id."""
    if not await _tables_exist(conn):
        return
    for table in CHECKPOINT_TABLES:
        columns = [row["column_name"] for row in await conn.fetch(COLUMNS_OF, table)]
        selected = [
            "$2" if column == "thread_id" else _retarget(column, table) for column in columns
        ]
        statement = COPY_THREAD.format(
            table=table, columns=", ".join(columns), selected=", ".join(selected)
        )
        await conn.execute(statement, source, target)


def _retarget(column: str, table: str) -> str:
    if table == "checkpoints" and column == "metadata":
        return RETARGETED_METADATA
    return column


async def keep_latest_checkpoints(conn: Executor, thread_id: str) -> None:
    """Prune a thread to its latest checkpoint in each namespace (and those checkpoints'
    writes). Blobs stay: the latest checkpoint may still refer to any of them."""
    if not await _tables_exist(conn):
        return
    for table in ("checkpoint_writes", "checkpoints"):
        await conn.execute(KEEP_LATEST.format(table=table), thread_id)
