"""Pure rules of the registry, and what its handlers answer (served on real NATS in
``tests/integration/test_registry_service.py``)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM, TEAMS_FILE
from agentlist.contracts.runs import RunCancel
from agentlist.contracts.workers import (
    GraphInfo,
    GraphLoad,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    PoolReport,
    WorkerRegister,
)
from agentlist.registry.catalogue import rejected_graphs
from agentlist.registry.handlers import RegistryHandlers
from agentlist.registry.leases import WorkerView, answer
from agentlist.registry.liveness import Thresholds, Verdict, judge, state_after_ping
from agentlist.registry.queries import Released
from agentlist.registry.store import PoolView
from agentlist.registry.teams import TeamGrants

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
    """Records what the handlers store; refuses nothing of its own, so that every refusal in a
    reply is the handlers' (or the team grants')."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str]] = []
        self.pools: list[tuple[str, str, list[str], list[str]]] = []

    async def register(
        self, msg: WorkerRegister, team: str, refused: dict[str, str]
    ) -> dict[str, str] | None:
        self.registered.append((team, msg.worker_id))
        return refused

    async def heartbeat(self, msg: Heartbeat, team: str, lease_seconds: float) -> WorkerView:
        return WorkerView(known=(team, msg.worker_id) in self.registered)

    async def pool_report(
        self, msg: PoolReport, team: str, graphs: list[str], workers: list[str], gone_after: float
    ) -> PoolView:
        assert len(msg.reason) <= 500
        self.pools.append((team, msg.pool_id, graphs, workers))
        lost = [w for w in msg.lost if (team, w) in self.registered]
        return PoolView(
            graphs=[
                GraphLoad(graph_id=g, pending=1, running=0, healthy_capacity=0) for g in graphs
            ],
            workers=[],
            released=Released(dead=lost, runs=len(lost)),
        )


def handlers_of(store: FakeStore, teams: TeamGrants) -> tuple[RegistryHandlers, list[str]]:
    woken: list[str] = []

    async def wake() -> None:
        woken.append("runs.requested")

    handlers = RegistryHandlers(
        store, teams, wake, heartbeat_interval=0.5, lease_seconds=3, pool_gone_after=10
    )
    return handlers, woken


def registration(worker_id: str) -> WorkerRegister:
    return WorkerRegister(
        worker_id=worker_id,
        language="python",
        version="1",
        host="h",
        pid=1,
        capacity=2,
        graphs=[graph("mine"), graph("theirs")],
    )


async def test_a_team_is_refused_the_graphs_its_grant_lacks(tmp_path: Path) -> None:
    teams = tmp_path / TEAMS_FILE
    teams.write_text(json.dumps({"search": ["mine"]}))
    store = FakeStore()
    handlers, _ = handlers_of(store, TeamGrants(teams))

    reply = await handlers.on_register(registration("w1"), subjects.registry_register("search"))
    assert reply.accepted and reply.heartbeat_interval == 0.5
    assert list(reply.rejected_graphs) == ["theirs"]
    own = await handlers.on_register(registration("w2"), subjects.registry_register(DEFAULT_TEAM))
    assert own.accepted and own.rejected_graphs == {}
    stranger = await handlers.on_register(registration("w3"), subjects.registry_register("other"))
    assert set(stranger.rejected_graphs) == {"mine", "theirs"}
    refused = await handlers.on_register(registration("bad.id"), subjects.registry_register("x"))
    assert not refused.accepted
    # An admin may publish to any subject: a team that is no subject token is refused too.
    templated = await handlers.on_register(registration("w4"), subjects.REGISTRY_REGISTER)
    assert not templated.accepted
    assert store.registered == [("search", "w1"), (DEFAULT_TEAM, "w2"), ("other", "w3")]

    # A grant edited while the registry runs applies to the next registration.
    teams.write_text(json.dumps({"search": ["mine", "theirs"]}))
    os.utime(teams, (1, 1))
    again = await handlers.on_register(registration("w1"), subjects.registry_register("search"))
    assert again.rejected_graphs == {}


async def test_a_heartbeat_counts_only_from_the_workers_own_team() -> None:
    store = FakeStore()
    handlers, _ = handlers_of(store, TeamGrants(None))
    await handlers.on_register(registration("w1"), subjects.registry_register(DEFAULT_TEAM))
    run = HeldRun(run_id=str(uuid.uuid4()), attempt=1)
    beat = Heartbeat(worker_id="w1", capacity=2, runs=[run])
    forged = await handlers.on_heartbeat(beat, subjects.registry_heartbeat("evil"))
    assert forged == HeartbeatReply(known=False, revoked=[run])
    own = await handlers.on_heartbeat(beat, subjects.registry_heartbeat(DEFAULT_TEAM))
    assert own.known


async def test_a_pool_hears_the_load_of_its_teams_graphs_only(tmp_path: Path) -> None:
    teams = tmp_path / TEAMS_FILE
    teams.write_text(json.dumps({"search": ["mine"]}))
    store = FakeStore()
    handlers, woken = handlers_of(store, TeamGrants(teams))
    report = PoolReport(
        pool_id="p1",
        graphs=["mine", "theirs", "bad.id", "mine"],
        minimum=1,
        maximum=2,
        target=1,
        workers=["w1", "w1", "bad.id"],
        reason="x" * 10_000,
    )
    reply = await handlers.on_pool(report, subjects.registry_pool("search"))
    assert [g.graph_id for g in reply.graphs] == ["mine"]
    own = await handlers.on_pool(report, subjects.registry_pool(DEFAULT_TEAM))
    assert [g.graph_id for g in own.graphs] == ["mine", "theirs"]
    stranger = await handlers.on_pool(report, subjects.registry_pool("other"))
    assert stranger.graphs == []
    # An admin may publish to any subject: a team that is no subject token is not recorded.
    templated = await handlers.on_pool(report, subjects.REGISTRY_POOL)
    assert templated.graphs == [] and templated.workers == []
    assert store.pools == [
        ("search", "p1", ["mine"], ["w1"]),
        (DEFAULT_TEAM, "p1", ["mine", "theirs"], ["w1"]),
        ("other", "p1", [], ["w1"]),
    ]
    assert woken == []


async def test_a_pool_that_lost_a_worker_wakes_the_scheduler() -> None:
    store = FakeStore()
    handlers, woken = handlers_of(store, TeamGrants(None))
    await handlers.on_register(registration("w1"), subjects.registry_register(DEFAULT_TEAM))
    lost = PoolReport(pool_id="p", graphs=[], minimum=0, maximum=1, target=0, lost=["w1"])
    await handlers.on_pool(lost, subjects.registry_pool("evil"))
    assert woken == []
    await handlers.on_pool(lost, subjects.registry_pool(DEFAULT_TEAM))
    assert woken == ["runs.requested"]
