"""Graphs for the conformance suite: subgraphs, custom events, the store, and a tool step."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.base import BaseStore


class Count(TypedDict, total=False):
    count: int
    trail: list[str]


def _bump(name: str) -> Any:
    def bump(state: Count) -> Count:
        return {"count": state.get("count", 0) + 1, "trail": [*state.get("trail", []), name]}

    return bump


_child = StateGraph(Count)
_child.add_node("inner_a", _bump("inner_a"))
_child.add_node("inner_b", _bump("inner_b"))
_child.add_edge(START, "inner_a")
_child.add_edge("inner_a", "inner_b")
_child.add_edge("inner_b", END)

_parent = StateGraph(Count)
_parent.add_node("before", _bump("before"))
_parent.add_node("child", _child.compile())
_parent.add_edge(START, "before")
_parent.add_edge("before", "child")
_parent.add_edge("child", END)
nested = _parent.compile()
"""A parent graph whose ``child`` node is a compiled subgraph."""


class Progress(TypedDict, total=False):
    steps: int


def report(state: Progress) -> Progress:
    write = get_stream_writer()
    for step in range(3):
        write({"progress": step})
    return {"steps": 3}


_custom = StateGraph(Progress)
_custom.add_node("report", report)
_custom.add_edge(START, "report")
_custom.add_edge("report", END)
custom = _custom.compile()
"""Writes three custom stream events."""


class Memory(TypedDict, total=False):
    user: str
    note: str
    recalled: dict[str, Any] | None


async def remember(state: Memory, *, store: BaseStore) -> Memory:
    namespace = ("memories", state.get("user") or "anonymous")
    previous = await store.aget(namespace, "note")
    if state.get("note"):
        await store.aput(namespace, "note", {"text": state["note"]})
    return {"recalled": previous.value if previous is not None else None}


_memory = StateGraph(Memory)
_memory.add_node("remember", remember)
_memory.add_edge(START, "remember")
_memory.add_edge("remember", END)
memory = _memory.compile()
"""Reads the last note of a user from the store, then stores the new one."""


class Chat(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


def agent(state: Chat) -> Chat:
    return {"messages": [AIMessage(content="calling a tool")]}


def tools(state: Chat) -> Chat:
    return {"messages": [AIMessage(content="tool result")]}


_tools = StateGraph(Chat)
_tools.add_node("agent", agent)
_tools.add_node("tools", tools)
_tools.add_edge(START, "agent")
_tools.add_edge("agent", "tools")
_tools.add_edge("tools", END)
with_tools = _tools.compile()
"""``agent`` then ``tools``: for ``interrupt_before=["tools"]``."""
