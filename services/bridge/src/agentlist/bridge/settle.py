"""The transactions that apply a run's outcome to Postgres, over :mod:`queries`."""

from __future__ import annotations

import enum

import asyncpg

from agentlist.bridge import outcomes, queries
from agentlist.contracts.events import RunOutcome
from agentlist.db.checkpoints import delete_thread_checkpoints
from agentlist.db.sql import Executor


class Settled(enum.Enum):
    APPLIED = "applied"
    """This delivery changed the run (and its thread)."""
    ALREADY = "already"
    """An earlier delivery did (or the run is gone): only Redis may still lack the end."""
    SUPERSEDED = "superseded"
    """Another attempt owns the run: the outcome must change nothing."""


async def settle_run(pool: asyncpg.Pool, outcome: RunOutcome) -> tuple[Settled, bool]:
    """Apply ``outcome`` to its run and thread in one transaction, fenced on the attempt.

    Returns how it settled and whether the run asked for its thread to be deleted once done
    (a stateless run's ``on_completion = 'delete'``).
    """
    async with pool.acquire() as conn, conn.transaction():
        await queries.lock_thread(conn, outcome.thread_id)
        fenced = await _fence(conn, outcome)
        if fenced is not None:
            if outcomes.ends_run(outcome):
                await _update_thread(conn, outcome)
                if fenced.has_webhook and outcome.status != "rollback":
                    await queries.queue_webhook(conn, outcome.run_id, outcome.values)
            return Settled.APPLIED, fenced.on_completion == "delete"
        run = await queries.run_state(conn, outcome.run_id)
    if run is None:
        return Settled.ALREADY, False
    if outcomes.superseded(outcome, run_attempt=run.attempt, run_status=run.status):
        return Settled.SUPERSEDED, False
    return Settled.ALREADY, run.on_completion == "delete"


async def _fence(conn: Executor, outcome: RunOutcome) -> queries.Fenced | None:
    """Change the run if ``outcome``'s attempt still holds it; else ``None``."""
    if outcome.status == "rollback":
        return await queries.delete_run(conn, outcome.run_id, outcome.attempt)
    if outcome.status == "released":
        return await queries.release_run(conn, outcome.run_id, outcome.attempt)
    return await queries.finish_run(
        conn,
        outcome.run_id,
        outcome.attempt,
        outcomes.end_status(outcome),
        outcomes.failure(outcome),
    )


async def _update_thread(conn: Executor, outcome: RunOutcome) -> None:
    await queries.update_thread(
        conn,
        thread_id=outcome.thread_id,
        run_id=outcome.run_id,
        status=outcomes.thread_status(outcome),
        values=outcome.values,
        interrupts=outcome.interrupts,
        error=outcomes.failure(outcome),
    )


async def delete_thread(pool: asyncpg.Pool, thread_id: str) -> None:
    """Delete a thread, its runs (by cascade) and its checkpoints."""
    async with pool.acquire() as conn, conn.transaction():
        await queries.delete_thread(conn, thread_id)
        await delete_thread_checkpoints(conn, thread_id)
