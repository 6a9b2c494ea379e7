"""Messages that start, stop and hand back a run."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agentlist.contracts._wire import WireModel

StreamMode = Literal[
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
]
Durability = Literal["sync", "async", "exit"]
CancelAction = Literal["interrupt", "rollback"]


class CheckpointRef(WireModel):
    """Where a run starts from (a fork) or which checkpoint a state read targets."""

    checkpoint_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_map: dict[str, Any] | None = None


def _values_only() -> list[StreamMode]:
    return ["values"]


class RunKwargs(WireModel):
    """Everything a worker needs to execute a run, already merged and validated by the API."""

    input: Any = None
    command: dict[str, Any] | None = None
    """LangGraph ``Command`` fields: ``resume``, ``update``, ``goto``."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Merged run config; ``configurable`` holds ``thread_id``, ``run_id``, ``graph_id``, ..."""
    context: dict[str, Any] = Field(default_factory=dict)
    stream_mode: list[StreamMode] = Field(default_factory=_values_only)
    subgraphs: bool = False
    interrupt_before: list[str] | Literal["*"] | None = None
    interrupt_after: list[str] | Literal["*"] | None = None
    checkpoint: CheckpointRef | None = None
    durability: Durability = "async"
    feedback_keys: list[str] | None = None


class RunDispatch(WireModel):
    """Scheduler -> one worker (request/reply on ``workers.<id>.dispatch``)."""

    type: Literal["agentlist.run.dispatch.v1"] = "agentlist.run.dispatch.v1"
    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    tenant_id: str
    attempt: int = Field(ge=1)
    """Fencing number: every message the worker sends about this run carries it."""
    token: str | None = Field(default=None, repr=False)
    """The attempt's lease token, a secret: every message the worker sends about this attempt
    carries it beside ``attempt``, and the worker never logs it."""
    resume_from_checkpoint: bool = False
    """True on a retry: continue from the run's last checkpoint instead of re-sending input."""
    params: RunKwargs


class DispatchReply(WireModel):
    """Worker -> scheduler: take the run, or refuse it so it goes back to the queue."""

    type: Literal["agentlist.run.dispatch_reply.v1"] = "agentlist.run.dispatch_reply.v1"
    accepted: bool
    reason: str | None = None


class RunCancel(WireModel):
    """API -> the worker holding a run (``runs.<id>.cancel``); repeated in heartbeat replies."""

    type: Literal["agentlist.run.cancel.v1"] = "agentlist.run.cancel.v1"
    run_id: str
    action: CancelAction = "interrupt"
