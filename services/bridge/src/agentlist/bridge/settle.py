"""The transactions that apply a run's outcome to Postgres, over :mod:`queries`."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from agentlist.bridge import outcomes, queries
from agentlist.bridge.fences import same_token
from agentlist.contracts.events import RunOutcome
from agentlist.db.checkpoints import delete_thread_checkpoints
from agentlist.db.pool import transaction_then
from agentlist.db.sql import Executor


class Settled(enum.Enum):
    APPLIED = "applied"
    """This delivery changed the run (and its thread)."""
    ALREADY = "already"
    """An earlier delivery did (or the run is gone): only Redis may still lack the end."""
    SUPERSEDED = "superseded"
    """Another attempt owns the run: the outcome must change nothing."""
    FORGED = "forged"
    """The outcome does not carry its attempt's lease token: it must change nothing."""


@dataclass(frozen=True)
class Settlement:
    settled: Settled
    thread_to_delete: UUID | None = None
    """The run's thread (from its row), when the run asked for it to be deleted once done (a
    stateless run's ``on_completion = 'delete'``)."""
    runs_pending: bool = False
    """Whether runs waited for a scheduler once the transaction had committed: then the
    bridge wakes the schedulers."""


async def settle_run(pool: asyncpg.Pool, outcome: RunOutcome) -> Settlement:
    """Apply ``outcome`` to its run and thread in one transaction, fenced on the attempt and
    its lease token. The thread is the run's, never the one the outcome names.

    Round trips of an outcome that ends its run: ``BEGIN``, the thread's lock, the run with its
    thread, the commit with the look for pending runs after it; a webhook adds its outbox
    row."""
    async with pool.acquire() as conn:
        async with transaction_then(conn, queries.ANY_RUN_PENDING) as committed:
            settlement = await _settle(conn, outcome)
        return dataclasses.replace(settlement, runs_pending=committed.found_rows)


async def _settle(conn: Executor, outcome: RunOutcome) -> Settlement:
    thread_id = await queries.lock_run_thread(conn, outcome.run_id)
    if thread_id is None:
        return Settlement(Settled.ALREADY)
    fenced = await _apply(conn, thread_id, outcome)
    if fenced is not None:
        return Settlement(Settled.APPLIED, _to_delete(fenced.on_completion, thread_id))
    run = await queries.run_state(conn, outcome.run_id)
    if run is None:
        return Settlement(Settled.ALREADY)
    if outcomes.superseded(outcome, run_attempt=run.attempt, run_status=run.status):
        return Settlement(Settled.SUPERSEDED)
    if not same_token(outcome.token, run.lease_token):
        return Settlement(Settled.FORGED)
    return Settlement(Settled.ALREADY, _to_delete(run.on_completion, thread_id))


async def _apply(conn: Executor, thread_id: UUID, outcome: RunOutcome) -> queries.Fenced | None:
    """Change the run, and its thread if the run ends, if ``outcome``'s attempt still holds it
    with the outcome's token; else ``None``."""
    token = outcome.token
    if not token:
        return None
    if outcome.status in ("rollback", "released"):
        fenced = await _fence_rare(conn, outcome, token)
        if fenced is not None and outcomes.ends_run(outcome):
            await _update_thread(conn, thread_id, outcome)
        return fenced
    fenced = await queries.finish_run_and_thread(
        conn,
        outcome.run_id,
        outcome.attempt,
        token,
        status=outcomes.end_status(outcome),
        thread_status=outcomes.thread_status(outcome),
        values=outcome.values,
        interrupts=outcome.interrupts,
        error=outcomes.failure(outcome),
    )
    if fenced is not None and fenced.has_webhook:
        await queries.queue_webhook(conn, outcome.run_id, outcome.values)
    return fenced


def _to_delete(on_completion: str, thread_id: UUID) -> UUID | None:
    return thread_id if on_completion == "delete" else None


async def _fence_rare(conn: Executor, outcome: RunOutcome, token: str) -> queries.Fenced | None:
    """A rollback (the run is deleted) or a release (back to the queue), fenced like
    ``queries.finish_run_and_thread``."""
    if outcome.status == "rollback":
        return await queries.delete_run(conn, outcome.run_id, outcome.attempt, token)
    return await queries.release_run(conn, outcome.run_id, outcome.attempt, token)


async def _update_thread(conn: Executor, thread_id: UUID, outcome: RunOutcome) -> None:
    await queries.update_thread(
        conn,
        thread_id=thread_id,
        run_id=outcome.run_id,
        status=outcomes.thread_status(outcome),
        values=outcome.values,
        interrupts=outcome.interrupts,
        error=outcomes.failure(outcome),
    )


async def delete_thread(pool: asyncpg.Pool, thread_id: UUID) -> None:
    """Delete a thread, its runs (by cascade) and its checkpoints."""
    async with pool.acquire() as conn, conn.transaction():
        await queries.delete_thread(conn, thread_id)
        await delete_thread_checkpoints(conn, str(thread_id))
