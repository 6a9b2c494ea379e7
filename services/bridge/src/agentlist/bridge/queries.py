"""Every SQL statement of the bridge, each with the function that runs it. The callers own the
transactions (:mod:`agentlist.bridge.settle`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.bridge.fences import RowFence
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.storage import RunEndStatus, RunStatus, ThreadStatus
from agentlist.db.sql import ACTIVE_RUNS, Executor


@dataclass(frozen=True)
class Fenced:
    """What the rest of an outcome's transaction needs of the run it changed."""

    on_completion: str
    has_webhook: bool


@dataclass(frozen=True)
class RunState:
    attempt: int
    status: RunStatus
    on_completion: str
    lease_token: str | None = field(repr=False)


# The fence of each run: which attempt holds it, with which lease token, on which thread.
# Asked once per batch that holds fences (one per attempt), never per event.
RUN_FENCES: Final = """
SELECT run_id, thread_id, attempt, lease_token FROM runs WHERE run_id = ANY($1::uuid[])
"""


async def run_fences(conn: Executor, run_ids: list[UUID]) -> dict[str, RowFence]:
    return {
        str(row["run_id"]): RowFence(str(row["thread_id"]), row["attempt"], row["lease_token"])
        for row in await conn.fetch(RUN_FENCES, run_ids)
    }


# The run's thread row is locked first, as the API locks it to create runs, so that the
# thread's status is judged on the runs that exist once the lock is held. The thread is the
# run's, from its row: never the one a message names.
LOCK_RUN_THREAD: Final = """
SELECT t.thread_id FROM threads t
WHERE t.thread_id = (SELECT r.thread_id FROM runs r WHERE r.run_id = $1)
FOR UPDATE
"""


async def lock_run_thread(conn: Executor, run_id: str) -> UUID | None:
    """The run's thread, locked; None when the run (or its thread) is gone."""
    thread_id: UUID | None = await conn.fetchval(LOCK_RUN_THREAD, run_id)
    return thread_id


# Whether a scheduler has anything to claim once an outcome freed its thread and its worker's
# slot (runs_pending answers from the index). Sent with the outcome's COMMIT, in the same round
# trip, and run after it (``transaction_then``): a run committed after this look wakes the
# schedulers itself, once it is committed, and they then see this outcome applied. A look
# inside the transaction could miss such a run while its claim still found the slot taken.
# The answer is the command tag: ``SELECT 1`` or ``SELECT 0``.
ANY_RUN_PENDING: Final = "SELECT 1 FROM runs WHERE status = 'pending' LIMIT 1"


# An outcome that ends its run (success, error, interrupted, timeout), in one statement: the run
# fenced on its attempt and that attempt's lease token, then its thread (``UPDATE_THREAD``'s
# rule; the thread is the run's, locked by ``LOCK_RUN_THREAD`` before this statement's snapshot
# was taken). No row: the fence did not match.
#   $1 run, $2 attempt, $3 token, $4 run status, $5 error (of the run and the thread),
#   $6 thread status, $7 values, $8 interrupts.
FINISH_RUN_AND_THREAD: Final = f"""
WITH fenced AS (
    UPDATE runs
    SET status = $4, error = $5, ended_at = now(), updated_at = now(), lease_expires_at = NULL
    WHERE run_id = $1 AND attempt = $2 AND lease_token = $3 AND status = 'running'
    RETURNING thread_id, on_completion, webhook IS NOT NULL AS has_webhook
),
thread AS (
    UPDATE threads t
    SET status = CASE WHEN EXISTS (
                     SELECT 1 FROM runs r
                     WHERE r.thread_id = t.thread_id AND r.run_id <> $1
                       AND r.status IN {ACTIVE_RUNS}
                 ) THEN 'busy' ELSE $6 END,
        state_values = $7, interrupts = $8, error = $5,
        state_updated_at = now(), updated_at = now()
    FROM fenced f
    WHERE t.thread_id = f.thread_id
)
SELECT f.on_completion, f.has_webhook FROM fenced f
"""


async def finish_run_and_thread(
    conn: Executor,
    run_id: str,
    attempt: int,
    token: str,
    *,
    status: RunEndStatus,
    thread_status: ThreadStatus,
    values: Any,
    interrupts: dict[str, Any],
    error: ErrorInfo | None,
) -> Fenced | None:
    """None: another attempt (or token) holds the run, or it is not running."""
    dumped = error.model_dump(mode="json") if error is not None else None
    row = await conn.fetchrow(
        FINISH_RUN_AND_THREAD,
        run_id,
        attempt,
        token,
        status,
        dumped,
        thread_status,
        values,
        interrupts,
    )
    return _fenced(row)


# The fenced changes of a run (on its attempt and that attempt's lease token) return what the
# rest of the transaction needs, so that it takes no extra round trip: whether the thread
# goes, and whether a webhook is to be queued.
DELETE_RUN: Final = """
DELETE FROM runs
WHERE run_id = $1 AND attempt = $2 AND lease_token = $3 AND status = 'running'
RETURNING on_completion, webhook IS NOT NULL AS has_webhook
"""


async def delete_run(conn: Executor, run_id: str, attempt: int, token: str) -> Fenced | None:
    return _fenced(await conn.fetchrow(DELETE_RUN, run_id, attempt, token))


RELEASE_RUN: Final = """
UPDATE runs
SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
WHERE run_id = $1 AND attempt = $2 AND lease_token = $3 AND status = 'running'
RETURNING on_completion, webhook IS NOT NULL AS has_webhook
"""


async def release_run(conn: Executor, run_id: str, attempt: int, token: str) -> Fenced | None:
    return _fenced(await conn.fetchrow(RELEASE_RUN, run_id, attempt, token))


def _fenced(row: asyncpg.Record | None) -> Fenced | None:
    return None if row is None else Fenced(row["on_completion"], row["has_webhook"])


# $2 is the status the run leaves the thread in when no other run of it is active (still
# pending or running): then the thread stays busy. One statement, not a query then an update.
UPDATE_THREAD: Final = f"""
UPDATE threads
SET status = CASE WHEN EXISTS (
                 SELECT 1 FROM runs
                 WHERE thread_id = $1 AND run_id <> $6 AND status IN {ACTIVE_RUNS}
             ) THEN 'busy' ELSE $2 END,
    state_values = $3, interrupts = $4, error = $5,
    state_updated_at = now(), updated_at = now()
WHERE thread_id = $1
"""


async def update_thread(
    conn: Executor,
    *,
    thread_id: UUID,
    run_id: str,
    status: ThreadStatus,
    values: Any,
    interrupts: dict[str, Any],
    error: ErrorInfo | None,
) -> None:
    """``run_id``: the run that ended, which no longer keeps the thread busy."""
    dumped = error.model_dump(mode="json") if error is not None else None
    await conn.execute(UPDATE_THREAD, thread_id, status, values, interrupts, dumped, run_id)


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


async def queue_webhook(conn: Executor, run_id: str, values: Any) -> None:
    await conn.execute(QUEUE_WEBHOOK, run_id, values)


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


async def claim_webhooks(
    conn: Executor, batch: int, lease_seconds: float, max_attempts: int
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        CLAIM_WEBHOOKS, batch, lease_seconds, max_attempts
    )
    return rows


WEBHOOK_DELIVERED: Final = """
UPDATE webhook_deliveries SET delivered_at = now(), last_error = NULL WHERE run_id = $1
"""


async def webhook_delivered(conn: Executor, run_id: UUID) -> None:
    await conn.execute(WEBHOOK_DELIVERED, run_id)


# $2 error, $3 seconds until the next attempt (NULL: never again).
WEBHOOK_FAILED: Final = """
UPDATE webhook_deliveries
SET last_error = $2,
    next_attempt_at = CASE WHEN $3::float8 IS NULL THEN 'infinity'
                           ELSE now() + make_interval(secs => $3::float8) END
WHERE run_id = $1
"""


async def webhook_failed(conn: Executor, run_id: UUID, error: str, delay: float | None) -> None:
    await conn.execute(WEBHOOK_FAILED, run_id, error, delay)


RUN_STATE: Final = "SELECT attempt, status, on_completion, lease_token FROM runs WHERE run_id = $1"


async def run_state(conn: Executor, run_id: str) -> RunState | None:
    row = await conn.fetchrow(RUN_STATE, run_id)
    if row is None:
        return None
    return RunState(row["attempt"], row["status"], row["on_completion"], row["lease_token"])


DELETE_THREAD: Final = "DELETE FROM threads WHERE thread_id = $1"


async def delete_thread(conn: Executor, thread_id: UUID) -> None:
    """The row and its runs (by cascade); ``settle.delete_thread`` adds the checkpoints."""
    await conn.execute(DELETE_THREAD, thread_id)
