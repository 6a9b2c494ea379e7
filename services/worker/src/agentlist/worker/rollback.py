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

from agentlist.contracts import RunDispatch
from agentlist.worker import queries
from agentlist.worker.queries import WriteKey

Pool = AsyncConnectionPool[AsyncConnection[DictRow]]


@dataclass(frozen=True)
class WritesBaseline:
    """The writes on the thread's latest checkpoints before a run started."""

    since_checkpoint_id: str | None
    keys: frozenset[WriteKey] = field(default_factory=frozenset)


def needs_baseline(dispatch: RunDispatch) -> bool:
    """Whether the run may add writes to a checkpoint it did not create, so that a rollback
    needs a baseline to tell them from older ones (a query per run otherwise spared).

    A first attempt given an input starts from a checkpoint of its own (LangGraph's ``input``
    step saves one before any task runs) and writes only on checkpoints it created, which a
    rollback deletes with their writes. A command or no input continues the thread's latest
    checkpoint, and so may a later attempt (LangGraph resumes a run's own last checkpoint).
    """
    params = dispatch.params
    return (
        dispatch.attempt > 1
        or dispatch.resume_from_checkpoint
        or bool(params.command)
        or params.input is None
    )


async def take_baseline(pool: Pool, thread_id: str) -> WritesBaseline:
    async with pool.connection() as conn:
        found = await queries.baseline(conn, thread_id)
    return WritesBaseline(None) if found is None else WritesBaseline(*found)


async def delete_run_writes(
    pool: Pool, thread_id: str, run_id: str, baseline: WritesBaseline
) -> int:
    """Delete the run's checkpoints and writes in one transaction; returns checkpoints gone."""
    async with pool.connection() as conn, conn.transaction():
        gone = await queries.delete_run_checkpoints(conn, thread_id, run_id)
        if gone:
            await queries.delete_writes_of(conn, thread_id, gone)
        if baseline.since_checkpoint_id is not None:
            since = await queries.writes_since(conn, thread_id, baseline.since_checkpoint_id)
            for key in since:
                if key not in baseline.keys:
                    await queries.delete_write(conn, thread_id, key)
    return len(gone)
