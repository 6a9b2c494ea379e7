"""Cancelling runs.

A running run is flagged in Postgres (``cancel_action``, which heartbeat replies repeat) and
its worker is told on ``runs.<id>.cancel``; the worker stops the graph and reports the outcome.

A pending run has no worker to report for it, so the API plays that part: it takes the run as
attempt ``n + 1`` of a pseudo-worker ``api``, with a lease token of its own making, and ends it
in the worker's place
(:mod:`agentlist.core.run_end`). The bridge then finishes it exactly as it finishes any run
(status, thread status, end of stream, next queued run), so there is one path to a run's end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from agentlist.api.db import runs
from agentlist.api.deps import Resources
from agentlist.contracts import RunCancel, RunOutcome, subjects
from agentlist.contracts.events import CANCELLED_STATUS, new_lease_token
from agentlist.contracts.runs import CancelAction
from agentlist.core.run_end import OUTCOME_SEQ, end_in_workers_place

logger = logging.getLogger(__name__)

API_WORKER = "api"
PUBLISH_TIMEOUT_SECONDS = 5.0
"""Unacknowledged by then, the run's lease expires and the scheduler ends it instead."""


async def cancel(
    resources: Resources, tenant: str, run_ids: Iterable[UUID], action: CancelAction
) -> int:
    """Cancel each active run of ``tenant``; returns how many were still active."""
    cancelled = 0
    conn = resources.as_tenant(tenant)
    for run_id in run_ids:
        token = new_lease_token()
        taken = await runs.take_pending_for_cancel(
            conn, run_id, action, API_WORKER, resources.settings.lease_seconds, token
        )
        if taken is not None:
            await _finish_pending(resources, run_id, taken, action, token)
            cancelled += 1
        elif await runs.flag_running_for_cancel(conn, run_id, action):
            message = RunCancel(run_id=str(run_id), action=action)
            await resources.nats.publish(
                subjects.run_cancel(str(run_id)), message.model_dump_json().encode()
            )
            cancelled += 1
    return cancelled


async def _finish_pending(
    resources: Resources, run_id: UUID, taken: runs.Taken, action: CancelAction, token: str
) -> None:
    outcome = RunOutcome(
        run_id=str(run_id),
        thread_id=str(taken.thread_id),
        attempt=taken.attempt,
        seq=OUTCOME_SEQ,
        token=token,
        status=CANCELLED_STATUS[action],
        values=taken.thread_values,
        interrupts=taken.thread_interrupts,
    )
    await end_in_workers_place(
        resources.nats.jetstream(), outcome, owner=API_WORKER, ack_wait=PUBLISH_TIMEOUT_SECONDS
    )
