"""What flows on ``runs.<id>.events`` (JetStream): attempt fences, stream chunks and outcomes.

Per run, messages are ordered by ``(attempt, seq)``. The scheduler publishes
:class:`AttemptStarted` (seq 0) before it dispatches an attempt; the worker then publishes
:class:`RunEvent` with seq 1, 2, ... and ends with exactly one :class:`RunOutcome`. A message
whose attempt is older than the newest ``AttemptStarted`` is stale and is dropped.

Every message carries its attempt's lease token, a secret that only the attempt's owner
learns (from its dispatch). A number anyone can guess; the token they cannot: a message whose
token is not its attempt's is forged, and changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import Field, TypeAdapter

from agentlist.contracts._wire import WireModel
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.runs import CancelAction

OutcomeStatus = Literal["success", "error", "interrupted", "rollback", "timeout", "released"]
"""``interrupted``/``rollback``: cancelled with that action. ``released``: a draining worker
handed the run back unfinished; it returns to the queue instead of ending."""

CANCELLED_STATUS: Final[Mapping[CancelAction, OutcomeStatus]] = {
    "interrupt": "interrupted",
    "rollback": "rollback",
}
"""How a run cancelled with each action ends, whoever ends it: its worker, or the API or the
scheduler in its place."""


LEASE_TOKEN_BYTES: Final = 16
"""A lease token is 128 random bits, URL-safe base64 (22 characters)."""


def new_lease_token() -> str:
    """A fresh secret for one attempt: made by whoever claims the attempt (the scheduler, or the
    API or the scheduler ending a run in its worker's place) and stored on the run's row."""
    return secrets.token_urlsafe(LEASE_TOKEN_BYTES)


class AttemptStarted(WireModel):
    """Scheduler -> bridge: attempt ``attempt`` now owns the run; earlier attempts are fenced."""

    type: Literal["agentlist.run.attempt_started.v1"] = "agentlist.run.attempt_started.v1"
    run_id: str
    thread_id: str
    attempt: int = Field(ge=1)
    worker_id: str
    seq: Literal[0] = 0
    # Never in a repr: a logged message must not hand its attempt's secret to the log's readers.
    token: str | None = Field(default=None, repr=False)
    """The attempt's lease token (the run's ``lease_token``). The bridge believes a fence only
    when the run's row holds this attempt and token, and then only messages that carry it."""


class RunEvent(WireModel):
    """Worker -> bridge: one stream chunk, already in langgraph-api's event naming."""

    type: Literal["agentlist.run.event.v1"] = "agentlist.run.event.v1"
    run_id: str
    thread_id: str
    attempt: int = Field(ge=1)
    seq: int = Field(ge=1)
    token: str | None = Field(default=None, repr=False)
    """The attempt's lease token from its ``RunDispatch``: without it, the message is refused."""
    event: str
    """SSE event name: ``values``, ``updates``, ``messages/partial``, ``values|node:task``..."""
    data: Any = None


class RunOutcome(WireModel):
    """Worker -> bridge: how the attempt ended. Always the attempt's last message."""

    type: Literal["agentlist.run.outcome.v1"] = "agentlist.run.outcome.v1"
    run_id: str
    thread_id: str
    attempt: int = Field(ge=1)
    seq: int = Field(ge=1)
    token: str | None = Field(default=None, repr=False)
    """The attempt's lease token from its ``RunDispatch``: without it, the message is refused."""
    status: OutcomeStatus
    values: Any = None
    """The thread's values at the final checkpoint."""
    next: list[str] = Field(default_factory=list)
    """Nodes still to run; non-empty means the thread is interrupted."""
    interrupts: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """Pending interrupts by task id, as on the thread object."""
    error: ErrorInfo | None = None
    checkpoint_id: str | None = None


RunMessage = Annotated[AttemptStarted | RunEvent | RunOutcome, Field(discriminator="type")]
RUN_MESSAGE: TypeAdapter[AttemptStarted | RunEvent | RunOutcome] = TypeAdapter(RunMessage)
"""Reads any message of the events stream: ``RUN_MESSAGE.validate_json(payload)``."""
