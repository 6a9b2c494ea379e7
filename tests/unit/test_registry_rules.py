"""Pure rules of the registry, and what its handlers answer (served on real NATS in
``tests/integration/test_registry_service.py``)."""

from __future__ import annotations

import uuid

from agentlist.contracts.runs import RunCancel
from agentlist.contracts.workers import (
    GraphInfo,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    RegisterReply,
    WorkerRegister,
)
from agentlist.registry.catalogue import rejected_graphs
from agentlist.registry.handlers import RegistryHandlers
from agentlist.registry.leases import WorkerView, answer
from agentlist.registry.liveness import Thresholds, Verdict, judge, state_after_ping

T = Thresholds(suspect_after=6, dead_after=15)


def test_liveness_verdicts() -> None:
    assert judge("healthy", 1, T) is Verdict.FINE
    assert judge("healthy", 6, T) is Verdict.SUSPECT
    assert judge("draining", 7, T) is Verdict.FINE  # takes no runs; it exits once drained
    assert judge("draining", 15, T) is Verdict.DEAD
    assert judge("unhealthy", 7, T) is Verdict.FINE  # already judged, awaiting death or a beat
    assert judge("unhealthy", 15, T) is Verdict.DEAD
    assert judge("healthy", 100, T) is Verdict.DEAD
    assert judge("dead", 100, T) is Verdict.FINE
    assert state_after_ping(answered=False) == "unhealthy"
    assert state_after_ping(answered=True) is None


def graph(graph_id: str) -> GraphInfo:
    return GraphInfo(graph_id=graph_id)


def test_a_graph_belongs_to_one_language() -> None:
    live = {"a": {"javascript"}, "b": {"python"}}
    rejected = rejected_graphs([graph("a"), graph("b"), graph("c"), graph("x.y")], "python", live)
    assert set(rejected) == {"a", "x.y"}
    assert "javascript" in rejected["a"]


def test_heartbeat_answer() -> None:
    owned_run, cancelled_run, lost_run = (str(uuid.uuid4()) for _ in range(3))
    held = [
        HeldRun(run_id=owned_run, attempt=1),
        HeldRun(run_id=cancelled_run, attempt=2),
        HeldRun(run_id=lost_run, attempt=1),
        HeldRun(run_id="not-a-uuid", attempt=1),
    ]
    view = WorkerView(
        known=True,
        drain=True,
        owned={
            (uuid.UUID(owned_run), 1): None,
            (uuid.UUID(cancelled_run), 2): "rollback",
        },
    )
    reply = answer(held, view)
    assert reply.known and reply.drain
    assert [r.run_id for r in reply.revoked] == [lost_run, "not-a-uuid"]
    assert reply.cancels == [RunCancel(run_id=cancelled_run, action="rollback")]


class FakeStore:
    def __init__(self) -> None:
        self.registered: list[WorkerRegister] = []

    async def register(self, msg: WorkerRegister) -> dict[str, str]:
        self.registered.append(msg)
        return {"taken": "served by javascript workers"}

    async def heartbeat(self, msg: Heartbeat, lease_seconds: float) -> WorkerView:
        known = any(r.worker_id == msg.worker_id for r in self.registered)
        return WorkerView(known=known)


def registration(worker_id: str) -> WorkerRegister:
    return WorkerRegister(
        worker_id=worker_id,
        language="python",
        version="1",
        host="h",
        pid=1,
        capacity=2,
        graphs=[graph("mine"), graph("taken")],
    )


async def test_handlers_answer_registrations_and_heartbeats() -> None:
    store = FakeStore()
    handlers = RegistryHandlers(store, heartbeat_interval=0.5, lease_seconds=3)
    reply = await handlers.on_register(registration("w1"))
    assert isinstance(reply, RegisterReply)
    assert reply.accepted and reply.heartbeat_interval == 0.5
    assert set(reply.rejected_graphs) == {"taken"}

    refused = await handlers.on_register(registration("bad.id"))
    assert not refused.accepted
    assert [r.worker_id for r in store.registered] == ["w1"]

    run = HeldRun(run_id=str(uuid.uuid4()), attempt=1)
    beat = Heartbeat(worker_id="w2", capacity=2, runs=[run])
    assert await handlers.on_heartbeat(beat) == HeartbeatReply(known=False, revoked=[run])
