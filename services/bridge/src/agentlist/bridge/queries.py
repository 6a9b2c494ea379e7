"""Every SQL statement of the bridge, and the transactions that apply a run's outcome."""

from __future__ import annotations

import enum
from typing import Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from agentlist.bridge import outcomes
from agentlist.contracts.events import RunOutcome
from agentlist.db.checkpoints import delete_thread_checkpoints

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

# The thread row is locked first, as the API locks it to create runs, so that the thread's
# status is judged on the runs that exist once the lock is held.
LOCK_THREAD: Final = "SELECT 1 FROM threads WHERE thread_id = $1 FOR UPDATE"

# The fenced changes of a run return what the rest of the transaction needs, so that it takes
# no extra round trip: whether the thread goes, and whether a webhook is to be queued.
FINISH_RUN: Final = """
UPDATE runs
SET status = $3, error = $4, ended_at = now(), updated_at = now(), lease_expires_at = NULL
WHERE run_id = $1 AND attempt = $2 AND status = 'running'
RETURNING on_completion, webhook IS NOT NULL AS has_webhook
"""

DELETE_RUN: Final = """
DELETE FROM runs
WHERE run_id = $1 AND attempt = $2 AND status = 'running'
RETURNING on_completion, webhook IS NOT NULL AS has_webhook
"""

RELEASE_RUN: Final = """
UPDATE runs
SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
WHERE run_id = $1 AND attempt = $2 AND status = 'running'
RETURNING on_completion, webhook IS NOT NULL AS has_webhook
"""

# $2 is the status the run leaves the thread in when no other run of it is active (still
# pending or running): then the thread stays busy. One statement, not a query then an update.
UPDATE_THREAD: Final = """
UPDATE threads
SET status = CASE WHEN EXISTS (
                 SELECT 1 FROM runs
                 WHERE thread_id = $1 AND run_id <> $6 AND status IN ('pending', 'running')
             ) THEN 'busy' ELSE $2 END,
    state_values = $3, interrupts = $4, error = $5,
    state_updated_at = now(), updated_at = now()
WHERE thread_id = $1
"""

# The outbox row of a finished run's webhook, written with its final status: a bridge that
# dies after the commit still leaves the delivery to be made.
QUEUE_WEBHOOK: Final = """
INSERT INTO webhook_deliveries (run_id, tenant_id, url, payload)
SELECT r.run_id, r.tenant_id, r.webhook,
       jsonb_build_object(
           'run_id', r.run_id, 'thread_id', r.thread_id, 'assistant_id', r.assistant_id,
           'created_at', r.created_at, 'updated_at', r.updated_at, 'status', r.status,
           'metadata', r.metadata, 'kwargs', r.kwargs,
           'multitask_strategy', r.multitask_strategy, 'run_started_at', r.started_at,
           'run_ended_at', r.ended_at, 'values', $2::jsonb, 'error', r.error)
FROM runs r
WHERE r.run_id = $1 AND r.webhook IS NOT NULL
ON CONFLICT (run_id) DO NOTHING
"""

# Due deliveries, leased by pushing their next attempt past the time a send may take, so
# that no other bridge sends them meanwhile. $1 batch, $2 lease seconds, $3 max attempts.
CLAIM_WEBHOOKS: Final = """
UPDATE webhook_deliveries d
SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::float8)
WHERE d.run_id IN (
    SELECT run_id FROM webhook_deliveries
    WHERE delivered_at IS NULL AND next_attempt_at <= now() AND attempts < $3
    ORDER BY next_attempt_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
RETURNING d.run_id, d.url, d.payload, d.attempts
"""

WEBHOOK_DELIVERED: Final = """
UPDATE webhook_deliveries SET delivered_at = now(), last_error = NULL WHERE run_id = $1
"""

# $2 error, $3 seconds until the next attempt (NULL: never again).
WEBHOOK_FAILED: Final = """
UPDATE webhook_deliveries
SET last_error = $2,
    next_attempt_at = CASE WHEN $3::float8 IS NULL THEN 'infinity'
                           ELSE now() + make_interval(secs => $3::float8) END
WHERE run_id = $1
"""

# Whether a scheduler has anything to claim once an outcome freed its thread and its worker's
# slot (runs_pending answers from the index). Asked after the commit: a run inserted meanwhile
# wakes the schedulers itself, once it is committed, and they then see this outcome applied.
RUNS_PENDING: Final = "SELECT EXISTS (SELECT 1 FROM runs WHERE status = 'pending')"

RUN_STATE: Final = "SELECT attempt, status, on_completion FROM runs WHERE run_id = $1"

DELETE_THREAD: Final = "DELETE FROM threads WHERE thread_id = $1"


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
        await conn.execute(LOCK_THREAD, outcome.thread_id)
        fenced = await _fence(conn, outcome)
        if fenced is not None:
            if outcomes.ends_run(outcome):
                await _update_thread(conn, outcome)
                if fenced["has_webhook"] and outcome.status != "rollback":
                    await conn.execute(QUEUE_WEBHOOK, outcome.run_id, outcome.values)
            return Settled.APPLIED, fenced["on_completion"] == "delete"
        row = await conn.fetchrow(RUN_STATE, outcome.run_id)
    if row is None:
        return Settled.ALREADY, False
    if outcomes.superseded(outcome, run_attempt=row["attempt"], run_status=row["status"]):
        return Settled.SUPERSEDED, False
    return Settled.ALREADY, row["on_completion"] == "delete"


async def _fence(conn: Connection, outcome: RunOutcome) -> asyncpg.Record | None:
    """Change the run if ``outcome``'s attempt still holds it; then its ``on_completion`` and
    ``has_webhook``, else ``None``."""
    if outcome.status == "rollback":
        return await conn.fetchrow(DELETE_RUN, outcome.run_id, outcome.attempt)
    if outcome.status == "released":
        return await conn.fetchrow(RELEASE_RUN, outcome.run_id, outcome.attempt)
    error = outcomes.failure(outcome)
    return await conn.fetchrow(
        FINISH_RUN,
        outcome.run_id,
        outcome.attempt,
        outcomes.end_status(outcome),
        error.model_dump(mode="json") if error is not None else None,
    )


async def _update_thread(conn: Connection, outcome: RunOutcome) -> None:
    error = outcomes.failure(outcome)
    await conn.execute(
        UPDATE_THREAD,
        outcome.thread_id,
        outcomes.thread_status(outcome),
        outcome.values,
        outcome.interrupts,
        error.model_dump(mode="json") if error is not None else None,
        outcome.run_id,
    )


async def runs_pending(pool: asyncpg.Pool) -> bool:
    pending: bool = await pool.fetchval(RUNS_PENDING)
    return pending


async def delete_thread(pool: asyncpg.Pool, thread_id: str) -> None:
    """Delete a thread, its runs (by cascade) and its checkpoints."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(DELETE_THREAD, thread_id)
        await delete_thread_checkpoints(conn, thread_id)
