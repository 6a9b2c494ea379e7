"""What becomes of a run whose lease expired: pure decisions, and the outcome that ends it.

A run whose worker was lost goes back to the queue for another attempt, up to
``max_attempts``. Past that (or when a cancel was requested, since the worker that should have
honoured it is gone) the scheduler ends the run itself, as the *finisher*: it takes a new
attempt of its own and publishes that attempt's ``AttemptStarted`` and ``RunOutcome`` (see
:mod:`agentlist.scheduler.sweeper`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import CANCELLED_STATUS, OutcomeStatus, RunOutcome
from agentlist.core.run_end import OUTCOME_SEQ

FINISHER_ID: Final = "scheduler:finish"
"""The ``worker_id`` of a run the scheduler is ending. It is not a subject token, so no worker
can register under it."""

WORKER_LOST: Final = "WorkerLost"
INVALID_RUN: Final = "InvalidRun"


@dataclass(frozen=True)
class ExpiredLease:
    run_id: UUID
    thread_id: UUID
    attempt: int
    worker_id: str | None
    cancel_action: str | None
    error: dict[str, Any] | None
    lease_token: str | None = field(default=None, repr=False)
    """The attempt's secret: only a message carrying it speaks for the attempt."""


@dataclass(frozen=True)
class Requeue:
    """Back to ``pending``; the next claim starts attempt ``attempt + 1``."""


@dataclass(frozen=True)
class Extend:
    """The attempt's outcome is in the events stream but not applied yet (the bridges are
    behind, or down): the run is over, so it is neither retried nor ended; the lease waits."""


@dataclass(frozen=True)
class Finish:
    """The finisher ends the run as ``attempt`` with ``error`` (None for a cancel)."""

    attempt: int
    error: ErrorInfo | None


def decide(
    lease: ExpiredLease, max_attempts: int, *, reported: bool = False
) -> Requeue | Finish | Extend:
    """``reported``: the last message on the run's events subject is this attempt's outcome."""
    if reported:
        return Extend()
    if lease.worker_id == FINISHER_ID:
        # Our own outcome was not applied within a lease (NATS or the bridge was down):
        # publish the same attempt again; JetStream and the bridge drop what they already have.
        stored = ErrorInfo.model_validate(lease.error) if lease.error else None
        return Finish(attempt=lease.attempt, error=stored)
    if lease.cancel_action is not None:
        return Finish(attempt=lease.attempt + 1, error=None)
    if lease.attempt < max_attempts:
        return Requeue()
    return Finish(attempt=lease.attempt + 1, error=worker_lost(lease.attempt))


def worker_lost(attempts: int) -> ErrorInfo:
    return ErrorInfo(
        error=WORKER_LOST,
        message=f"the worker running this run stopped responding ({attempts} attempts)",
        retryable=False,
    )


def outcome_status(cancel_action: str | None) -> OutcomeStatus:
    """A lost run ends as cancelled when a cancel was pending for it, else in error."""
    for action, status in CANCELLED_STATUS.items():
        if action == cancel_action:
            return status
    return "error"


def final_outcome(
    run_id: UUID,
    thread_id: UUID,
    attempt: int,
    cancel_action: str | None,
    error: ErrorInfo | None,
    values: Any,
    token: str,
) -> RunOutcome:
    """The finisher's outcome. ``values`` are the thread's stored values, so that applying it
    leaves them as they were (no worker read the run's last checkpoint)."""
    status = outcome_status(cancel_action)
    return RunOutcome(
        run_id=str(run_id),
        thread_id=str(thread_id),
        attempt=attempt,
        seq=OUTCOME_SEQ,
        token=token,
        status=status,
        values=values,
        error=error if status == "error" else None,
    )
