"""Graph chunks become langgraph-api's events, and anything a graph streams serialises."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, Interrupt, Send

from agentlist.contracts import RunDispatch, RunKwargs
from agentlist.worker.loader import Graph
from agentlist.worker.serde import dumps, to_jsonable
from agentlist.worker.stream import graph_events, run_config, to_command
from agentlist.worker.translate import ChunkTranslator, plan_stream

sys.path.insert(0, str(Path(__file__).parents[1] / "graphs"))
import graphs
import worker_graphs


async def run_events(
    graph: Graph, graph_input: Any, modes: list[str], subgraphs: bool = False
) -> list[tuple[str, Any]]:
    graph = graph.copy(update={"checkpointer": InMemorySaver()})
    params = RunKwargs.model_validate(
        {"input": graph_input, "stream_mode": modes, "subgraphs": subgraphs}
    )
    config = {"configurable": {"thread_id": "t"}}
    return [
        (name, to_jsonable(data))
        async for name, data in graph_events(graph, graph_input, config, params)
    ]


CHAT_INPUT = {"messages": [{"role": "user", "content": "hi there"}]}


async def test_messages_mode_accumulates_partials_after_one_metadata() -> None:
    events = await run_events(graphs.agent, CHAT_INPUT, ["messages"])
    names = [name for name, _ in events]
    assert names[0] == "messages/metadata"
    assert names.count("messages/metadata") == 1
    assert set(names[1:]) == {"messages/partial"}
    ((message_id, meta),) = events[0][1].items()
    assert meta["metadata"]["langgraph_node"] == "respond"
    last = events[-1][1]
    assert isinstance(last, list) and len(last) == 1
    assert last[0]["content"] == "echo: hi there"
    assert last[0]["type"] == "ai"
    assert last[0]["id"] == message_id
    contents = [data[0]["content"] for name, data in events if name == "messages/partial"]
    assert contents == sorted(contents, key=len), "each partial holds all content so far"


async def test_messages_tuple_sends_chunk_and_metadata_per_token() -> None:
    events = await run_events(graphs.agent, CHAT_INPUT, ["messages-tuple", "values"])
    tuples = [data for name, data in events if name == "messages"]
    assert len(tuples) > 1
    chunk, metadata = tuples[0]
    assert chunk["type"] == "AIMessageChunk"
    assert metadata["langgraph_node"] == "respond"
    assert "".join(c["content"] for c, _ in tuples) == "echo: hi there"
    assert events[-1][0] == "values"


async def test_subgraph_events_are_named_with_their_namespace() -> None:
    events = await run_events(
        worker_graphs.nested, {"text": "x"}, ["values", "custom", "updates"], subgraphs=True
    )
    names = [name for name, _ in events]
    nested = [name for name in names if "|" in name]
    assert nested, names
    for name in nested:
        mode, namespace = name.split("|", 1)
        assert mode in {"values", "custom", "updates"}
        node, task_id = namespace.split(":")
        assert node == "child"
        UUID(task_id)
    custom = [data for name, data in events if name.startswith("custom|")]
    assert custom == [{"inner": "x"}]


async def test_without_subgraphs_nested_events_keep_plain_names() -> None:
    events = await run_events(worker_graphs.nested, {"text": "x"}, ["values", "custom"])
    assert all("|" not in name for name, _ in events)


async def test_interrupts_serialise_as_value_and_id() -> None:
    events = await run_events(graphs.interrupts, {"question": "why?"}, ["values", "updates"])
    name, last = events[-1]
    assert name == "values"
    [interrupt] = last["__interrupt__"]
    assert interrupt["value"] == "why?" and isinstance(interrupt["id"], str)
    assert set(interrupt) == {"value", "id"}
    assert events[-2] == ("updates", {"__interrupt__": [interrupt]})


async def test_events_mode_sends_callback_events_and_the_other_modes() -> None:
    events = await run_events(graphs.agent, CHAT_INPUT, ["events", "values"])
    kinds = {data["event"] for name, data in events if name == "events"}
    assert {"on_chain_start", "on_chat_model_stream", "on_chain_end"} <= kinds
    assert [name for name, _ in events].count("values") == 3


async def test_checkpoints_and_debug_carry_checkpoint_refs() -> None:
    events = await run_events(graphs.interrupts, {"question": "q"}, ["checkpoints", "debug"])
    checkpoints = [data for name, data in events if name == "checkpoints"]
    assert checkpoints and checkpoints[-1]["checkpoint"]["thread_id"] == "t"
    assert checkpoints[-1]["parent_checkpoint"]["checkpoint_id"]
    debug = [data for name, data in events if name == "debug" and data["type"] == "checkpoint"]
    assert debug[-1]["payload"]["checkpoint"] == checkpoints[-1]["checkpoint"]


def test_plan_maps_api_modes_to_langgraph_modes() -> None:
    plan = plan_stream(["messages-tuple", "values", "events"], subgraphs=False)
    assert set(plan.graph_modes) == {"values", "messages"}
    assert plan.use_events
    assert plan_stream(["events"], subgraphs=False).graph_modes == ("values",)


def test_complete_message_follows_its_chunks() -> None:
    translator = ChunkTranslator(plan_stream(["messages"], subgraphs=True))
    meta = {"langgraph_node": "n"}
    first = list(
        translator.translate(("a:1",), "messages", (AIMessageChunk(content="he", id="m"), meta))
    )
    assert [name for name, _ in first] == ["messages/metadata|a:1", "messages/partial|a:1"]
    done = list(
        translator.translate(("a:1",), "messages", (AIMessage(content="hello", id="m"), meta))
    )
    assert done == [("messages/complete|a:1", [AIMessage(content="hello", id="m")])]


@dataclass
class Point:
    x: int
    when: datetime


class Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


def test_serialise_whatever_a_graph_streams() -> None:
    value = {
        "message": HumanMessage("hi", id="1"),
        "interrupt": Interrupt(value={"q": 1}, id="i1"),
        "send": Send("node", {"a": 1}),
        "command": Command(resume="yes"),
        "set": {3},
        "tuple": (1, "two"),
        "uuid": UUID(int=1),
        "point": Point(1, datetime(2025, 1, 1, tzinfo=UTC)),
        "opaque": Opaque(),
        "error": ValueError("bad"),
        "huge": 2**70,
        4: "non-string key",
    }
    decoded = orjson.loads(dumps(value))
    assert decoded["message"]["type"] == "human" and decoded["message"]["content"] == "hi"
    assert decoded["interrupt"] == {"value": {"q": 1}, "id": "i1"}
    assert decoded["send"] == {"node": "node", "arg": {"a": 1}}
    assert decoded["command"]["resume"] == "yes"
    assert decoded["set"] == [3] and decoded["tuple"] == [1, "two"]
    assert decoded["uuid"] == str(UUID(int=1))
    assert decoded["point"] == {"x": 1, "when": "2025-01-01T00:00:00+00:00"}
    assert decoded["opaque"] == "<opaque>"
    assert decoded["error"] == {"error": "ValueError", "message": "bad"}
    assert decoded["huge"] == 2**70
    assert decoded["4"] == "non-string key"


def test_command_from_the_wire() -> None:
    command = to_command(
        {"resume": {"i1": "ok"}, "goto": {"node": "b", "input": {"x": 1}}, "update": [["k", 1]]}
    )
    assert command.resume == {"i1": "ok"}
    assert command.update == [("k", 1)]
    [send] = command.goto  # type: ignore[misc]
    assert isinstance(send, Send) and send.node == "b" and send.arg == {"x": 1}
    assert to_command({"goto": "a"}).goto == ["a"]


def test_run_config_records_the_run_in_checkpoint_metadata() -> None:
    dispatch = RunDispatch.model_validate(
        {
            "run_id": "01912345-6789-7abc-8def-0123456789ab",
            "thread_id": "t1",
            "assistant_id": "a1",
            "graph_id": "agent",
            "tenant_id": "default",
            "attempt": 2,
            "params": {
                "config": {"configurable": {"user": "u"}, "recursion_limit": 5},
                "checkpoint": {"checkpoint_id": "c1", "checkpoint_ns": ""},
            },
        }
    )
    config = run_config(dispatch)
    assert config["metadata"]["run_id"] == dispatch.run_id
    assert config["configurable"]["thread_id"] == "t1"
    assert config["configurable"]["checkpoint_id"] == "c1"
    assert config["configurable"]["user"] == "u"
    assert config["recursion_limit"] == 5
    assert str(config["run_id"]) == dispatch.run_id
