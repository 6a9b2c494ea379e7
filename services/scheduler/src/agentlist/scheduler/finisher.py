"""How the scheduler ends a run that no worker will end.

A run's stream and its row are finalised by the bridge, and the bridge only applies messages of
the run's current attempt, in order (``AttemptStarted`` = seq 0, then seq 1, 2, ...). So the
scheduler cannot simply publish an outcome for the lost attempt ``n``: the lost worker may have
published seq 1..k of it, and an outcome at any other seq would be a gap (never applied) or a
duplicate (dropped). Instead the scheduler becomes the run's next owner:

1. In one transaction, fenced on ``(run_id, attempt n, status 'running', worker_id)``, it sets
   ``attempt = n + 1``, ``worker_id = FINISHER_ID``, a fresh lease, a fresh lease token (so
   that the lost worker, which knows attempt ``n``'s, cannot speak for attempt ``n + 1``), and
   ``error``. The run stays
   ``running``: only the bridge moves it to a terminal status.
2. After commit it publishes ``AttemptStarted(n + 1)`` (which fences attempt ``n`` off: the lost
   worker's late events become stale and its heartbeats get the run revoked), then
   ``RunOutcome(n + 1, seq=1)`` with status ``error`` (``interrupted``/``rollback`` when a cancel
   was pending). The bridge applies it through its normal path: run and thread status, the
   stream's ``error`` event and end, and a wake-up for the thread's next run.
3. If either publish fails, or the bridge does not apply the outcome within the lease, the lease
   expires again and the sweeper publishes the *same* attempt again (``decide`` sees
   ``FINISHER_ID``): the messages carry the same ``Nats-Msg-Id`` and the bridge drops what it
   already applied, so the run ends exactly once.
"""

from __future__ import annotations

from uuid import UUID

from nats.js import JetStreamContext

from agentlist.contracts.errors import ErrorInfo
from agentlist.core.run_end import end_in_workers_place
from agentlist.db.sql import Executor
from agentlist.scheduler import queries
from agentlist.scheduler.leases import FINISHER_ID, final_outcome
from agentlist.scheduler.queries import FinishingRun


async def take_over(
    conn: Executor,
    *,
    run_id: UUID,
    attempt: int,
    worker_id: str | None,
    finishing_attempt: int,
    error: ErrorInfo | None,
    lease_seconds: float,
) -> FinishingRun | None:
    """Step 1: make the finisher the owner of ``finishing_attempt``. None: the run moved on."""
    return await queries.finish(
        conn, run_id, attempt, worker_id, finishing_attempt, FINISHER_ID, lease_seconds, error
    )


async def publish_end(js: JetStreamContext, run: FinishingRun, ack_wait: float) -> None:
    """Steps 2 (and 3): the finishing attempt's fence, then its outcome."""
    outcome = final_outcome(
        run.run_id,
        run.thread_id,
        run.attempt,
        run.cancel_action,
        run.error,
        run.thread_values,
        run.lease_token,
    )
    await end_in_workers_place(js, outcome, owner=FINISHER_ID, ack_wait=ack_wait)
