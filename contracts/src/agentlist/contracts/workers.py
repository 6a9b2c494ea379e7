"""Worker registration, heartbeats and control: what the registry knows about the mesh."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agentlist.contracts._wire import WireModel
from agentlist.contracts.runs import RunCancel

WorkerLanguage = Literal["python", "javascript"]


class GraphSchemas(WireModel):
    """JSON Schemas of a graph (any may be unknown)."""

    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    state_schema: dict[str, Any] | None = None
    config_schema: dict[str, Any] | None = None
    context_schema: dict[str, Any] | None = None


class GraphInfo(WireModel):
    """A graph a worker serves, described well enough that no worker is needed to show it."""

    graph_id: str
    name: str | None = None
    description: str | None = None
    schemas: GraphSchemas = Field(default_factory=GraphSchemas)
    drawable: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Drawable graph JSON (``{nodes, edges}``) keyed by xray depth: ``"0"``, ``"1"``, ..."""
    subgraphs: dict[str, GraphSchemas] = Field(default_factory=dict)
    """Schemas of nested graphs keyed by namespace (``"parent|child"``), recursively."""


class WorkerRegister(WireModel):
    """Worker -> registry (request/reply) when it starts, and again if the registry forgot it."""

    type: Literal["agentlist.worker.register.v1"] = "agentlist.worker.register.v1"
    worker_id: str
    language: WorkerLanguage
    version: str
    """The worker runtime's version."""
    host: str
    pid: int
    capacity: int = Field(ge=1)
    graphs: list[GraphInfo]
    runtime: dict[str, str] = Field(default_factory=dict)
    """Library versions, e.g. ``{"langgraph": "1.2.3"}``."""


class RegisterReply(WireModel):
    type: Literal["agentlist.worker.register_reply.v1"] = "agentlist.worker.register_reply.v1"
    accepted: bool
    reason: str | None = None
    rejected_graphs: dict[str, str] = Field(default_factory=dict)
    """Graph ids this worker may not serve, with the reason (e.g. served by another language)."""
    heartbeat_interval: float = Field(gt=0)
    """Seconds between heartbeats; leases last several intervals."""


class HeldRun(WireModel):
    run_id: str
    attempt: int = Field(ge=1)
    token: str | None = Field(default=None, repr=False)
    """The attempt's lease token (from its dispatch): only the holder of the attempt renews its
    lease. None in the registry's replies, which never send a token back."""


class Heartbeat(WireModel):
    """Worker -> registry (request/reply): liveness, load, and the runs whose leases it renews."""

    type: Literal["agentlist.worker.heartbeat.v1"] = "agentlist.worker.heartbeat.v1"
    worker_id: str
    capacity: int = Field(ge=1)
    runs: list[HeldRun] = Field(default_factory=list)
    draining: bool = False
    stopping: bool = False
    """The worker's last beat: drained, it holds nothing and exits; the registry forgets it."""


class HeartbeatReply(WireModel):
    type: Literal["agentlist.worker.heartbeat_reply.v1"] = "agentlist.worker.heartbeat_reply.v1"
    known: bool
    """False: the registry has no live record of this worker; it must register again."""
    revoked: list[HeldRun] = Field(default_factory=list)
    """Held runs this worker no longer owns (lease lost, run gone): stop them, publish nothing."""
    cancels: list[RunCancel] = Field(default_factory=list)
    """Cancels requested for held runs, in case the ``runs.<id>.cancel`` message was missed."""
    drain: bool = False
    """An operator asked this worker to drain."""


class WorkerControl(WireModel):
    """Registry/API -> one worker (``workers.<id>.control``, request/reply)."""

    type: Literal["agentlist.worker.control.v1"] = "agentlist.worker.control.v1"
    action: Literal["ping", "drain"]


class WorkerControlReply(WireModel):
    type: Literal["agentlist.worker.control_reply.v1"] = "agentlist.worker.control_reply.v1"
    worker_id: str
    inflight: int = 0
    draining: bool = False


class PoolReport(WireModel):
    """Pool -> registry (request/reply, ``registry.pool.<team>``), every fraction of a second
    and at once when a child exits: what the pool runs and wants, and why."""

    type: Literal["agentlist.pool.report.v1"] = "agentlist.pool.report.v1"
    pool_id: str
    graphs: list[str]
    """The graphs its workers serve: the reply gives their load."""
    minimum: int = Field(ge=0)
    maximum: int = Field(ge=1)
    target: int = Field(ge=0)
    workers: list[str] = Field(default_factory=list)
    """Worker ids of its live children."""
    reason: str = ""
    """Why the target is what it is (its last decision), for operators."""
    lost: list[str] = Field(default_factory=list)
    """Children seen to exit since the last report: the registry takes them for dead at once
    and sends their runs to their next attempt, without waiting for the lease."""
    leaving: bool = False
    """The pool's last report: its children have stopped and it is going away, so the
    registry forgets it now rather than once it has been silent for long."""


class GraphLoad(WireModel):
    graph_id: str
    pending: int = Field(ge=0)
    """Runs waiting for a worker."""
    running: int = Field(ge=0)
    healthy_capacity: int = Field(ge=0)
    """Run slots of the healthy workers (not draining) serving the graph."""


class PoolWorker(WireModel):
    worker_id: str
    state: str
    """``healthy``, ``unhealthy``, ``draining`` or ``dead``; a child not registered yet is
    absent from the reply."""
    inflight: int = Field(ge=0)
    capacity: int = Field(ge=1)


class PoolReply(WireModel):
    type: Literal["agentlist.pool.reply.v1"] = "agentlist.pool.reply.v1"
    graphs: list[GraphLoad] = Field(default_factory=list)
    workers: list[PoolWorker] = Field(default_factory=list)
    """The registry's view of the pool's children."""
