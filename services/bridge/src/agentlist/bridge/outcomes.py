"""Pure rules for a run's outcome: the statuses it leaves behind and the entries that end it."""

from __future__ import annotations

from typing import Any, Final

from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import OutcomeStatus, RunOutcome
from agentlist.contracts.storage import ACTIVE_RUN_STATUSES, RunEndStatus, ThreadStatus
from agentlist.contracts.streams import StreamEnd

_END_STATUS: Final[dict[OutcomeStatus, RunEndStatus]] = {
    "success": "success",
    "error": "error",
    "interrupted": "interrupted",
    "rollback": "interrupted",
    "timeout": "timeout",
}
_DEFAULT_FAILURE: Final = {
    "error": ErrorInfo(error="RunError", message="The run failed."),
    "timeout": ErrorInfo(error="TimeoutError", message="The run timed out."),
}


def ends_run(outcome: RunOutcome) -> bool:
    """Every outcome ends the run except ``released``, which hands it back to the queue."""
    return outcome.status != "released"


def end_status(outcome: RunOutcome) -> RunEndStatus:
    """The run's final status (a rolled-back run reads as interrupted, then disappears)."""
    return _END_STATUS[outcome.status]


def failure(outcome: RunOutcome) -> ErrorInfo | None:
    """The error an ``error`` or ``timeout`` outcome carries; ``None`` for the others."""
    default = _DEFAULT_FAILURE.get(outcome.status)
    if default is None:
        return None
    return outcome.error or default


def thread_status(outcome: RunOutcome) -> ThreadStatus:
    """The thread's status after ``outcome`` when no other run of it is active (when one is,
    the thread stays busy: ``queries.UPDATE_THREAD`` decides that in the same statement)."""
    if outcome.status in ("error", "timeout"):
        return "error"
    if outcome.next or outcome.interrupts:
        return "interrupted"
    return "idle"


def superseded(outcome: RunOutcome, *, run_attempt: int, run_status: str) -> bool:
    """Whether the run row (which the fenced update did not match) belongs to another attempt.

    A row of the outcome's attempt that has ended (or, for ``released``, gone back to
    ``pending``) means this outcome was applied already and is being redelivered. A row still
    active under that attempt was swept back to the queue: a later attempt owns the run.
    """
    if run_attempt != outcome.attempt:
        return True
    if outcome.status == "released":
        return run_status == "running"
    return run_status in ACTIVE_RUN_STATUSES


def stream_end(outcome: RunOutcome) -> StreamEnd:
    return StreamEnd(
        status=end_status(outcome),
        values=outcome.values,
        interrupts=outcome.interrupts,
        next=outcome.next,
        error=failure(outcome),
    )


def error_event(error: ErrorInfo) -> dict[str, Any]:
    """The SSE ``error`` event's data, as langgraph-api sends it."""
    return {"error": error.error, "message": error.message}


def run_done_event(run_id: str) -> dict[str, Any]:
    """The thread stream's ``metadata`` entry that says one of its runs ended."""
    return {"status": "run_done", "run_id": run_id}


def attempt_event(run_id: str, attempt: int) -> dict[str, Any]:
    """The SSE ``metadata`` event that opens (each attempt of) a run's stream."""
    return {"run_id": run_id, "attempt": attempt}
