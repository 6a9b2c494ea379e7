"""Thread state requests answer with langgraph-api's ThreadState shapes, and bad requests
get an HTTP status instead of crashing the worker."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
from langgraph.checkpoint.memory import InMemorySaver

from agentlist.contracts import (
    BulkUpdateState,
    CheckpointRef,
    GetHistory,
    GetState,
    StateReply,
    UpdateState,
)
from agentlist.contracts.state import EMPTY_THREAD_STATE
from agentlist.worker.loader import GraphSource
from agentlist.worker.state_ops import StateService
from agentlist.worker.thread_state import interrupts_by_task

sys.path.insert(0, str(Path(__file__).parents[1] / "graphs"))
import worker_graphs

THREAD_STATE_KEYS = {
    "values",
    "next",
    "tasks",
    "checkpoint",
    "metadata",
    "created_at",
    "parent_checkpoint",
    "interrupts",
    "checkpoint_id",
    "parent_checkpoint_id",
}
TASK_KEYS = {"id", "name", "path", "error", "interrupts", "checkpoint", "state", "result"}


def service() -> tuple[StateService, InMemorySaver]:
    saver = InMemorySaver()
    graphs = {"approval": GraphSource("approval", None, compiled=worker_graphs.approval)}
    return StateService(graphs, lambda: saver), saver


async def ask(state: StateService, request: Any, graph_id: str = "approval") -> StateReply:
    reply = await state.answer(graph_id, request.model_dump_json().encode())
    # What goes on the wire must be JSON.
    return StateReply.model_validate_json(orjson.dumps(reply.model_dump(mode="json")))


async def interrupted_thread(saver: InMemorySaver, thread_id: str) -> None:
    graph = worker_graphs.approval.copy(update={"checkpointer": saver})
    await graph.ainvoke({"request": "deploy"}, {"configurable": {"thread_id": thread_id}})


async def test_thread_without_checkpoints_has_the_empty_state() -> None:
    state, _ = service()
    reply = await ask(state, GetState(thread_id="nobody"))
    assert reply.ok and reply.result == EMPTY_THREAD_STATE


async def test_interrupted_thread_state_has_thread_state_shape() -> None:
    state, saver = service()
    await interrupted_thread(saver, "t1")
    reply = await ask(state, GetState(thread_id="t1"))
    assert reply.ok
    result = reply.result
    assert set(result) == THREAD_STATE_KEYS
    assert result["values"] == {"request": "deploy", "steps": ["propose"]}
    assert result["next"] == ["approve"]
    [task] = result["tasks"]
    assert set(task) == TASK_KEYS
    assert task["name"] == "approve"
    [interrupt] = task["interrupts"]
    assert interrupt["value"] == {"question": "approve deploy?"}
    assert result["interrupts"] == [interrupt]
    assert result["checkpoint"]["thread_id"] == "t1"
    assert result["checkpoint"]["checkpoint_ns"] == ""
    assert result["checkpoint_id"] == result["checkpoint"]["checkpoint_id"]
    assert result["parent_checkpoint"]["checkpoint_id"] == result["parent_checkpoint_id"]
    assert result["metadata"]["step"] == 1


async def test_interrupts_by_task_key_the_thread_interrupts() -> None:
    _, saver = service()
    await interrupted_thread(saver, "t2")
    graph = worker_graphs.approval.copy(update={"checkpointer": saver})
    snapshot = await graph.aget_state({"configurable": {"thread_id": "t2"}})
    by_task = interrupts_by_task(snapshot)
    assert list(by_task) == [snapshot.tasks[0].id]
    assert set(by_task[snapshot.tasks[0].id][0]) == {"value", "id"}


async def test_history_newest_first_with_limit_before_and_filter() -> None:
    state, saver = service()
    await interrupted_thread(saver, "t3")
    reply = await ask(state, GetHistory(thread_id="t3", limit=10))
    history = reply.result
    assert [h["metadata"]["step"] for h in history] == [1, 0, -1]
    assert all(set(h) == THREAD_STATE_KEYS for h in history)
    older = await ask(
        state,
        GetHistory(
            thread_id="t3",
            limit=1,
            before=CheckpointRef(checkpoint_id=history[0]["checkpoint_id"]),
        ),
    )
    assert [h["metadata"]["step"] for h in older.result] == [0]
    inputs = await ask(state, GetHistory(thread_id="t3", metadata={"source": "input"}))
    assert [h["metadata"]["step"] for h in inputs.result] == [-1]


async def test_update_state_then_read_it_back_and_a_past_checkpoint() -> None:
    state, saver = service()
    await interrupted_thread(saver, "t4")
    before = (await ask(state, GetState(thread_id="t4"))).result
    reply = await ask(
        state, UpdateState(thread_id="t4", values={"request": "rollback"}, as_node="propose")
    )
    assert reply.ok
    checkpoint = reply.result["checkpoint"]
    assert set(checkpoint) >= {"thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map"}
    after = (await ask(state, GetState(thread_id="t4"))).result
    assert after["values"]["request"] == "rollback"
    assert after["checkpoint_id"] == checkpoint["checkpoint_id"]
    past = await ask(
        state,
        GetState(thread_id="t4", checkpoint=CheckpointRef(checkpoint_id=before["checkpoint_id"])),
    )
    assert past.result["values"]["request"] == "deploy"


async def test_bulk_update_applies_supersteps() -> None:
    state, _ = service()
    reply = await ask(
        state,
        BulkUpdateState(
            thread_id="t5",
            supersteps=[
                [{"values": {"request": "a"}, "as_node": "propose"}],
                [{"values": {"steps": ["manual"]}, "as_node": "propose"}],
            ],
        ),
    )
    assert reply.ok, reply.error
    result = (await ask(state, GetState(thread_id="t5"))).result
    assert result["values"] == {"request": "a", "steps": ["manual"]}
    assert result["next"] == ["approve"]


async def test_bad_requests_get_a_status_not_a_crash() -> None:
    state, saver = service()
    await interrupted_thread(saver, "t6")
    unknown_node = await ask(state, UpdateState(thread_id="t6", values={}, as_node="nope"))
    assert not unknown_node.ok and unknown_node.status_code == 400
    assert unknown_node.error is not None and unknown_node.error.error == "InvalidUpdateError"
    unknown_graph = await ask(state, GetState(thread_id="t6"), graph_id="other")
    assert unknown_graph.status_code == 404
    garbage = await state.answer("approval", b'{"type": "agentlist.state.get.v1"}')
    assert not garbage.ok and garbage.status_code == 422
