"""How an attempt ends: success, error, a cancel's action, a timeout; and the run table."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import psycopg
from langgraph.checkpoint.memory import InMemorySaver

from agentlist.contracts import HeldRun, RunDispatch
from agentlist.worker.attempt import (
    STORE_FAILURE_ATTEMPTS,
    Ending,
    _drive,
    _failed,
    _final_fields,
    _logged_if_slow,
)
from agentlist.worker.publisher import EventPublisher
from agentlist.worker.rollback import needs_baseline
from agentlist.worker.runs import ActiveRun, RunTable, StopReason
from agentlist.worker.stream import run_config

sys.path.insert(0, str(Path(__file__).parents[1] / "graphs"))
import graphs


class Recorder:
    """Stands in for the JetStream publisher."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    async def event(self, name: str, data: Any) -> None:
        self.events.append((name, data))


def dispatch(
    graph_id: str = "slow", run_id: str = "r1", attempt: int = 1, **params: Any
) -> RunDispatch:
    return RunDispatch.model_validate(
        {
            "run_id": run_id,
            "thread_id": f"thread-{run_id}",
            "assistant_id": "a",
            "graph_id": graph_id,
            "tenant_id": "t",
            "attempt": attempt,
            "params": params,
            "token": f"lease-{run_id}-{attempt}",
        }
    )


async def drive(run: ActiveRun, graph: Any, seconds: float = 10) -> tuple[str, Any, Recorder]:
    recorder = Recorder()
    graph = graph.copy(update={"checkpointer": InMemorySaver()})
    config = run_config(run.dispatch)
    publisher = cast(EventPublisher, recorder)
    ending = await _drive(run, graph, run.dispatch.params.input, config, publisher, seconds)
    return ending.status, ending.error, recorder


async def test_success_and_error() -> None:
    status, error, recorder = await drive(
        ActiveRun(dispatch(input={"delay": 0, "total": 2})), graphs.slow
    )
    assert (status, error) == ("success", None)
    assert recorder.events[-1] == ("values", {"delay": 0, "total": 2, "steps": [1, 2]})
    status, error, _ = await drive(ActiveRun(dispatch(input={"reason": "no"})), graphs.fails)
    assert status == "error" and error is not None
    assert (error.error, error.message) == ("ValueError", "no")


async def test_cancel_actions_and_timeout() -> None:
    stops: list[tuple[StopReason, str]] = [
        ("interrupt", "interrupted"),
        ("rollback", "rollback"),
        ("released", "released"),
    ]
    for reason, expected in stops:
        run = ActiveRun(dispatch(input={"delay": 0.05, "total": 1000}))
        asyncio.get_running_loop().call_later(0.2, run.stop, reason)
        status, _, recorder = await drive(run, graphs.slow)
        assert status == expected
        assert 0 < len(recorder.events) < 100
    run = ActiveRun(dispatch(input={"delay": 0.05, "total": 1000}))
    status, error, _ = await drive(run, graphs.slow, seconds=0.2)
    assert status == "timeout" and error is not None and error.error == "TimeoutError"


def test_a_lost_store_hands_the_run_back_a_few_times() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert _failed(lost, dispatch(attempt=1)) == Ending("released", store_failed=True)
    last = _failed(lost, dispatch(attempt=STORE_FAILURE_ATTEMPTS))
    assert last.status == "error" and last.error is not None
    assert last.error.error == "OperationalError" and not last.store_failed
    assert _failed(ValueError("no"), dispatch(attempt=1)).status == "error"


def test_run_table_capacity_redispatch_and_fencing() -> None:
    table = RunTable(capacity=1, served={"slow"})
    first = dispatch(run_id="a")
    assert table.decide(first).start
    table.hold(first)
    again = table.decide(first)
    assert again.accepted and not again.start
    full = table.decide(dispatch(run_id="b"))
    assert not full.accepted and full.reason == "worker is at capacity"
    newer = table.decide(dispatch(run_id="a", attempt=2))
    assert newer.start and newer.supersedes is table.get("a")
    assert not table.decide(dispatch(graph_id="other", run_id="c")).accepted
    assert table.held() == [HeldRun(run_id="a", attempt=1, token="lease-a-1")]
    assert not table.revoke(HeldRun(run_id="a", attempt=5))
    table.draining = True
    assert table.decide(first).accepted, "a repeated dispatch is accepted even while draining"
    assert not table.decide(dispatch(run_id="d")).accepted


def test_a_run_publishing_its_outcome_frees_its_slot_but_stays_held() -> None:
    table = RunTable(capacity=1, served={"slow"})
    reporting = table.hold(dispatch(run_id="a"))
    assert not table.decide(dispatch(run_id="b")).accepted
    reporting.reporting = True
    assert table.decide(dispatch(run_id="b")).start
    table.hold(dispatch(run_id="b"))
    # Until its outcome is stored, its lease is renewed with the new run's.
    assert [held.run_id for held in table.held()] == ["a", "b"]
    assert table.decide(dispatch(run_id="c")).reason == "worker is at capacity"


def test_first_stop_reason_wins() -> None:
    run = ActiveRun(dispatch())
    run.stop("released")
    run.stop("rollback")
    assert run.stop_reason == "released" and run.stopped.is_set()


class LostStore(InMemorySaver):
    """A checkpointer whose server went away after the graph's last step."""

    async def aget_tuple(self, config: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")


async def test_a_success_whose_state_is_unreadable_is_handed_back_not_reported_empty() -> None:
    unreadable = graphs.slow.copy(update={"checkpointer": LostStore()})
    fields = await _final_fields(unreadable, dispatch(attempt=1), Ending("success"))
    assert (fields.status, fields.values) == ("released", None)
    last = await _final_fields(
        unreadable, dispatch(attempt=STORE_FAILURE_ATTEMPTS), Ending("success")
    )
    assert last.status == "error" and last.error is not None
    assert last.error.error == "OperationalError"
    stopped = await _final_fields(unreadable, dispatch(attempt=1), Ending("interrupted"))
    assert stopped.status == "interrupted"


class SlowStore(InMemorySaver):
    async def aget_tuple(self, config: Any) -> Any:
        await asyncio.sleep(0.5)
        return await super().aget_tuple(config)


async def test_a_slow_final_read_is_logged_with_where_it_waits_then_reported(
    monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr("agentlist.worker.attempt._SLOW_SECONDS", 0.1)
    slow = graphs.slow.copy(update={"checkpointer": SlowStore()})
    persistence: Any = SimpleNamespace(pool=SimpleNamespace(get_stats=lambda: {"pool_size": 7}))
    reading = asyncio.create_task(_final_fields(slow, dispatch(), Ending("success")))
    with caplog.at_level(logging.WARNING, logger="agentlist.worker.attempt"):
        fields = await _logged_if_slow(reading, "r1", persistence)
    assert fields.status == "success"
    (told,) = caplog.messages
    assert told.startswith("run r1: reading its final state for 0.1s, pool {'pool_size': 7}")
    assert "in aget_tuple" in told, told


async def test_a_resumed_finished_run_answers_its_final_values() -> None:
    graph: Any = graphs.slow.copy(update={"checkpointer": InMemorySaver()})
    run = dispatch(input={"delay": 0, "total": 2})
    config = run_config(run)
    await graph.ainvoke({"delay": 0, "total": 2}, config)
    async for _ in graph.astream(None, config):  # the next attempt, from the last checkpoint
        pass
    fields = await _final_fields(graph, run, Ending("success"))
    assert fields.status == "success"
    assert fields.values == {"delay": 0, "total": 2, "steps": [1, 2]}


def test_only_runs_that_may_write_on_older_checkpoints_take_a_rollback_baseline() -> None:
    assert not needs_baseline(dispatch(input={"value": 1}))
    assert needs_baseline(dispatch(command={"resume": "yes"}))
    assert needs_baseline(dispatch(input=None))
    assert needs_baseline(dispatch(input={"value": 1}, attempt=2))
    resumed = dispatch(input={"value": 1}).model_copy(update={"resume_from_checkpoint": True})
    assert needs_baseline(resumed)
