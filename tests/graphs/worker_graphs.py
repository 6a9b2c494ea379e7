"""Graphs for the worker runtime's tests: subgraphs, custom events, and the shapes a
``langgraph.json`` attribute may take (compiled, uncompiled, factories)."""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class Nested(TypedDict, total=False):
    text: str
    log: Annotated[list[str], operator.add]


def inner_step(state: Nested) -> Nested:
    get_stream_writer()({"inner": state.get("text", "")})
    return {"log": ["inner"]}


def outer_step(state: Nested) -> Nested:
    return {"log": ["outer"]}


def _inner() -> Any:
    builder = StateGraph(Nested)
    builder.add_node("inner_step", inner_step)
    builder.add_edge(START, "inner_step")
    builder.add_edge("inner_step", END)
    return builder.compile()


def _nested() -> StateGraph[Nested, Any, Nested, Nested]:
    builder = StateGraph(Nested)
    builder.add_node("outer", outer_step)
    builder.add_node("child", _inner())
    builder.add_edge(START, "outer")
    builder.add_edge("outer", "child")
    builder.add_edge("child", END)
    return builder


nested = _nested().compile()
uncompiled = _nested()


def make_nested(config: dict[str, Any]) -> StateGraph[Nested, Any, Nested, Nested]:
    """A factory taking the run's config, returning an uncompiled graph."""
    assert "configurable" in config
    return _nested()


async def make_nested_async() -> Any:
    await asyncio.sleep(0)
    return _nested().compile()


class Approval(TypedDict, total=False):
    request: str
    decision: str
    steps: Annotated[list[str], operator.add]


def propose(state: Approval) -> Approval:
    return {"steps": ["propose"]}


def approve(state: Approval) -> Approval:
    decision = interrupt({"question": f"approve {state.get('request', '?')}?"})
    return {"decision": str(decision), "steps": ["approve"]}


_approval = StateGraph(Approval)
_approval.add_node("propose", propose)
_approval.add_node("approve", approve)
_approval.add_edge(START, "propose")
_approval.add_edge("propose", "approve")
_approval.add_edge("approve", END)
approval = _approval.compile()
