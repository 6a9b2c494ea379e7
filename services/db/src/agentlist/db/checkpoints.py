"""LangGraph's checkpoint tables, as far as the mesh must touch them without graph code.

The tables are created by the workers' checkpointer (``langgraph-checkpoint-postgres``); a
database where no worker has started yet has none, and then there is nothing to copy or delete.
Columns are read from the catalogue so that a new checkpointer column is carried along.
"""

from __future__ import annotations

from typing import Any

CHECKPOINT_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")


async def _tables_exist(conn: Any) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass('checkpoints') IS NOT NULL"))


async def delete_thread_checkpoints(conn: Any, thread_id: str) -> None:
    """Delete every checkpoint of a thread (what ``adelete_thread`` does)."""
    if await _tables_exist(conn):
        for table in CHECKPOINT_TABLES:
            await conn.execute(f"DELETE FROM {table} WHERE thread_id = $1", thread_id)  # noqa: S608


async def copy_thread_checkpoints(conn: Any, source: str, target: str) -> None:
    """Copy a thread's checkpoints, blobs and writes to another thread id."""
    if not await _tables_exist(conn):
        return
    for table in CHECKPOINT_TABLES:
        columns = [
            row["column_name"]
            for row in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
                " AND table_schema = current_schema() ORDER BY ordinal_position",
                table,
            )
        ]
        selected = [
            "$2" if column == "thread_id" else _retarget(column, table) for column in columns
        ]
        await conn.execute(
            f"INSERT INTO {table} ({', '.join(columns)})"  # noqa: S608 - catalogue names
            f" SELECT {', '.join(selected)} FROM {table} WHERE thread_id = $1",
            source,
            target,
        )


def _retarget(column: str, table: str) -> str:
    if table == "checkpoints" and column == "metadata":
        # The copy's checkpoints say which thread they belong to, like the originals did.
        return (
            "CASE WHEN metadata ? 'thread_id'"
            " THEN jsonb_set(metadata, '{thread_id}', to_jsonb($2::text)) ELSE metadata END"
        )
    return column


async def keep_latest_checkpoints(conn: Any, thread_id: str) -> None:
    """Prune a thread to its latest checkpoint in each namespace (and those checkpoints'
    writes). Blobs stay: the latest checkpoint may still refer to any of them."""
    if not await _tables_exist(conn):
        return
    for table in ("checkpoint_writes", "checkpoints"):
        await conn.execute(
            f"DELETE FROM {table} WHERE thread_id = $1 AND checkpoint_id NOT IN ("  # noqa: S608
            " SELECT max(checkpoint_id) FROM checkpoints WHERE thread_id = $1"
            " GROUP BY checkpoint_ns)",
            thread_id,
        )
