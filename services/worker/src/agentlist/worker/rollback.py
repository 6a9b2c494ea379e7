"""Deleting what one run wrote to its thread's checkpoints (cancel with action ``rollback``).

The Postgres saver has no "delete this run", so this speaks to LangGraph's tables directly:
the checkpoints whose metadata carries the run's id, their pending writes, and the writes the
run added to checkpoints it did not create (a resumed run writes its resume value and first
task results onto the interrupted checkpoint). Those last are told apart from older writes
by a baseline taken before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

WriteKey = tuple[str, str, str, int]
"""``(checkpoint_ns, checkpoint_id, task_id, idx)``: the primary key of a write in a thread."""

# Checkpoint ids are time-ordered (uuid6), so writes a run can add to older checkpoints are on
# the thread's latest root checkpoint or its subgraphs' (written after it). The baseline in one
# round trip: that checkpoint's id (no row: the thread has none), with a row per write since.
_BASELINE = """
WITH latest AS (
    SELECT checkpoint_id FROM checkpoints
    WHERE thread_id = %(thread_id)s AND checkpoint_ns = ''
    ORDER BY checkpoint_id DESC LIMIT 1
)
SELECT l.checkpoint_id AS since, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx
FROM latest l
LEFT JOIN checkpoint_writes w
  ON w.thread_id = %(thread_id)s AND w.checkpoint_id >= l.checkpoint_id
"""
_WRITES_SINCE = """
SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes
WHERE thread_id = %s AND checkpoint_id >= %s
"""
_DELETE_RUN_CHECKPOINTS = """
DELETE FROM checkpoints
WHERE thread_id = %s AND metadata->>'run_id' = %s
RETURNING checkpoint_ns, checkpoint_id
"""
_DELETE_WRITES_OF = """
DELETE FROM checkpoint_writes AS w
USING unnest(%s::text[], %s::text[]) AS gone(ns, id)
WHERE w.thread_id = %s AND w.checkpoint_ns = gone.ns AND w.checkpoint_id = gone.id
"""
_DELETE_WRITE = """
DELETE FROM checkpoint_writes
WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s AND task_id = %s AND idx = %s
"""

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


@dataclass(frozen=True)
class WritesBaseline:
    """The writes on the thread's latest checkpoints before a run started."""

    since_checkpoint_id: str | None
    keys: frozenset[WriteKey] = field(default_factory=frozenset)


async def take_baseline(pool: Pool, thread_id: str) -> WritesBaseline:
    async with pool.connection() as conn:
        rows = await (await conn.execute(_BASELINE, {"thread_id": thread_id})).fetchall()
    if not rows:
        return WritesBaseline(None)
    writes = frozenset(_key(r) for r in rows if r["checkpoint_id"] is not None)
    return WritesBaseline(str(rows[0]["since"]), writes)


async def delete_run_writes(
    pool: Pool, thread_id: str, run_id: str, baseline: WritesBaseline
) -> int:
    """Delete the run's checkpoints and writes in one transaction; returns checkpoints gone."""
    async with pool.connection() as conn, conn.transaction():
        gone = await (await conn.execute(_DELETE_RUN_CHECKPOINTS, (thread_id, run_id))).fetchall()
        if gone:
            namespaces = [str(r["checkpoint_ns"]) for r in gone]
            ids = [str(r["checkpoint_id"]) for r in gone]
            await conn.execute(_DELETE_WRITES_OF, (namespaces, ids, thread_id))
        if baseline.since_checkpoint_id is not None:
            rows = await (
                await conn.execute(_WRITES_SINCE, (thread_id, baseline.since_checkpoint_id))
            ).fetchall()
            added = [key for key in map(_key, rows) if key not in baseline.keys]
            for ns, checkpoint_id, task_id, idx in added:
                await conn.execute(_DELETE_WRITE, (thread_id, ns, checkpoint_id, task_id, idx))
    return len(gone)


def _key(row: DictRow) -> WriteKey:
    return (str(row["checkpoint_ns"]), str(row["checkpoint_id"]), str(row["task_id"]), row["idx"])
