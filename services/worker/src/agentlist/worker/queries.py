"""Running the rollback SQL of :mod:`agentlist.contracts.rollback_sql` on LangGraph's checkpoint
tables (psycopg, as the checkpointer opens them), one function per statement. The statements
use PostgreSQL's own ``$n`` placeholders, shared with the JS worker, so they go through a raw
cursor, which passes them on unchanged. The callers own the transactions
(:mod:`agentlist.worker.rollback`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection, AsyncRawCursor
from psycopg.rows import DictRow

from agentlist.contracts import rollback_sql

WriteKey = tuple[str, str, str, int]
"""``(checkpoint_ns, checkpoint_id, task_id, idx)``: the primary key of a write in a thread."""

Connection = AsyncConnection[DictRow]


async def _run(conn: Connection, statement: str, params: Sequence[Any]) -> list[DictRow]:
    """Rows of ``statement`` (none for one that returns none), with ``$n`` placeholders."""
    async with AsyncRawCursor(conn) as cursor:
        await cursor.execute(statement, params)
        return await cursor.fetchall() if cursor.description is not None else []


async def baseline(conn: Connection, thread_id: str) -> tuple[str, frozenset[WriteKey]] | None:
    """The thread's latest root checkpoint and the writes since; None: it has no checkpoint."""
    rows = await _run(conn, rollback_sql.BASELINE, (thread_id,))
    if not rows:
        return None
    return str(rows[0]["since"]), frozenset(_key(r) for r in rows if r["checkpoint_id"] is not None)


async def writes_since(conn: Connection, thread_id: str, checkpoint_id: str) -> list[WriteKey]:
    rows = await _run(conn, rollback_sql.WRITES_SINCE, (thread_id, checkpoint_id))
    return [_key(row) for row in rows]


async def delete_run_checkpoints(
    conn: Connection, thread_id: str, run_id: str
) -> list[tuple[str, str]]:
    """Returns the ``(checkpoint_ns, checkpoint_id)`` of each checkpoint deleted."""
    rows = await _run(conn, rollback_sql.DELETE_RUN_CHECKPOINTS, (thread_id, run_id))
    return [(str(r["checkpoint_ns"]), str(r["checkpoint_id"])) for r in rows]


async def delete_writes_of(
    conn: Connection, thread_id: str, checkpoints: list[tuple[str, str]]
) -> None:
    namespaces = [ns for ns, _ in checkpoints]
    ids = [checkpoint_id for _, checkpoint_id in checkpoints]
    await _run(conn, rollback_sql.DELETE_WRITES_OF, (namespaces, ids, thread_id))


async def delete_write(conn: Connection, thread_id: str, key: WriteKey) -> None:
    await _run(conn, rollback_sql.DELETE_WRITE, (thread_id, *key))


def _key(row: DictRow) -> WriteKey:
    return (str(row["checkpoint_ns"]), str(row["checkpoint_id"]), str(row["task_id"]), row["idx"])
