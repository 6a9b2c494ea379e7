"""Thread state operations that need graph code, answered by any worker serving the graph.

Request/reply on ``graphs.<graph_id>.state`` in the queue group ``GRAPH_STATE_QUEUE``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from agentlist.contracts._wire import WireModel
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.runs import CheckpointRef


class GetState(WireModel):
    type: Literal["agentlist.state.get.v1"] = "agentlist.state.get.v1"
    thread_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    checkpoint: CheckpointRef | None = None
    subgraphs: bool = False


class GetHistory(WireModel):
    type: Literal["agentlist.state.history.v1"] = "agentlist.state.history.v1"
    thread_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    limit: int = Field(default=10, ge=1)
    before: CheckpointRef | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointRef | None = None
    """Restricts history to one checkpoint namespace (a subgraph's)."""


class UpdateState(WireModel):
    type: Literal["agentlist.state.update.v1"] = "agentlist.state.update.v1"
    thread_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    values: Any = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None


class BulkUpdateState(WireModel):
    """Applies supersteps in order (``POST /threads`` with ``supersteps``)."""

    type: Literal["agentlist.state.bulk_update.v1"] = "agentlist.state.bulk_update.v1"
    thread_id: str
    config: dict[str, Any] = Field(default_factory=dict)
    supersteps: list[list[dict[str, Any]]]
    """Each superstep is a list of ``{values, command, as_node}`` updates."""


EMPTY_THREAD_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "checkpoint": None,
    "metadata": None,
    "created_at": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}
"""The ThreadState of a thread no run has touched: what ``GetState`` answers before any
checkpoint exists (and the API answers without asking a worker)."""


StateRequest = Annotated[
    GetState | GetHistory | UpdateState | BulkUpdateState, Field(discriminator="type")
]
STATE_REQUEST: TypeAdapter[GetState | GetHistory | UpdateState | BulkUpdateState] = TypeAdapter(
    StateRequest
)


class StateReply(WireModel):
    type: Literal["agentlist.state.reply.v1"] = "agentlist.state.reply.v1"
    ok: bool
    thread_id: str | None = None
    """The thread the answer is about, echoed from the request: the API believes no answer
    that names another thread (or none)."""
    result: Any = None
    """``get``: a ThreadState; ``history``: a list of them; ``update``: ``{"checkpoint": ...}``."""
    error: ErrorInfo | None = None
    status_code: int = 200
    """The HTTP status the API should answer with when ``ok`` is false (400, 404, 422...)."""
