"""``agentlist pool``'s settings and its reading of the registry's answer, without a mesh."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentlist.contracts.workers import GraphLoad, PoolReply, PoolWorker
from agentlist.launcher.pool import Lane, PoolChild, read_settings
from agentlist.launcher.pool_policy import Child, Limits, Load
from agentlist.launcher.process import spawn


def children(*worker_ids: str) -> dict[str, PoolChild]:
    """Children of a pool, as processes that ran (what they are does not matter here)."""
    found = {}
    for worker_id in worker_ids:
        process = spawn(worker_id, [sys.executable, "-c", "pass"])
        process.popen.wait(10)
        found[worker_id] = PoolChild(worker_id, process, 0.0)
    return found


def test_flags_beat_the_environment_and_the_rest_is_read_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLIST_POOL_MAXIMUM", "9")
    monkeypatch.setenv("AGENTLIST_POOL_COOLDOWN", "7")
    monkeypatch.setenv("NATS_URL", "nats://worker-search:secret@127.0.0.1:4222")
    settings = read_settings(["--config", "x.json", "--min", "0", "--max", "3"])
    assert settings.limits == Limits(minimum=0, maximum=3, capacity=10, cooldown=7.0)
    assert settings.config == Path("x.json") and settings.team == "search"


def test_a_minimum_above_the_maximum_is_refused() -> None:
    with pytest.raises(ValidationError, match="--min 5 is above --max 2"):
        read_settings(["--min", "5", "--max", "2"])


def test_the_answer_counts_only_the_pool_s_graphs_and_children() -> None:
    lane = Lane("python", Path("x.json"), ["a", "b"], "p", Limits(1, 4, 10, 30.0))
    lane.children = children("p-1", "p-2", "p-3")
    reply = PoolReply(
        graphs=[
            GraphLoad(graph_id="a", pending=4, running=1, healthy_capacity=20),
            GraphLoad(graph_id="b", pending=2, running=0, healthy_capacity=20),
            GraphLoad(graph_id="elsewhere", pending=50, running=0, healthy_capacity=0),
        ],
        workers=[
            PoolWorker(worker_id="p-1", state="healthy", inflight=3, capacity=10),
            PoolWorker(worker_id="p-2", state="draining", inflight=1, capacity=10),
            PoolWorker(worker_id="stranger", state="healthy", inflight=0, capacity=10),
        ],
    )
    assert lane.load(reply) == Load(
        pending=6,
        children=(
            Child("p-1", "healthy", 3),
            Child("p-2", "draining", 1),
            Child("p-3", "starting"),
        ),
    )


def test_the_report_names_the_live_children_and_the_lost_ones() -> None:
    lane = Lane("python", Path("x.json"), ["a"], "p", Limits(0, 2, 10, 30.0))
    lane.children = children("p-3", "p-2")
    lane.lost, lane.target, lane.reason = ["p-1"], 2, "backlog 3 > 0 free slots"
    report = lane.report()
    assert (report.pool_id, report.graphs, report.minimum, report.maximum) == ("p", ["a"], 0, 2)
    assert (report.target, report.workers, report.lost) == (2, ["p-2", "p-3"], ["p-1"])
    assert report.reason == "backlog 3 > 0 free slots"
