"""Graphs the test suite runs: small, deterministic, and with no network (no real LLM)."""

from __future__ import annotations

import asyncio
import contextlib
import operator
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def _last_text(state: ChatState) -> str:
    messages = state.get("messages") or []
    return str(messages[-1].content) if messages else ""


def prepare(state: ChatState) -> ChatState:
    return {"turns": state.get("turns", 0) + 1}


async def respond(state: ChatState) -> ChatState:
    """Streams an echo token by token, like a chat model would."""
    model = GenericFakeChatModel(messages=iter([AIMessage(content=f"echo: {_last_text(state)}")]))
    reply = await model.ainvoke(state.get("messages") or [])
    return {"messages": [reply]}


def _chat_graph() -> Any:
    builder = StateGraph(ChatState)
    builder.add_node("prepare", prepare)
    builder.add_node("respond", respond)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "respond")
    builder.add_edge("respond", END)
    return builder


agent = _chat_graph().compile()


class SlowState(TypedDict, total=False):
    steps: Annotated[list[int], operator.add]
    delay: float
    total: int


async def step(state: SlowState) -> SlowState:
    await asyncio.sleep(state.get("delay", 1.0))
    return {"steps": [len(state.get("steps") or []) + 1]}


def more_steps(state: SlowState) -> str:
    return "step" if len(state.get("steps") or []) < state.get("total", 5) else END


_slow = StateGraph(SlowState)
_slow.add_node("step", step)
_slow.add_edge(START, "step")
_slow.add_conditional_edges("step", more_steps, ["step", END])
slow = _slow.compile()


class HoldState(TypedDict, total=False):
    hold: float
    held: bool


async def hold_on(state: HoldState) -> HoldState:
    """Ignores being cancelled until it has held for ``hold`` seconds (a graph that swallows
    ``CancelledError``)."""
    until = asyncio.get_running_loop().time() + state.get("hold", 6.0)
    while (left := until - asyncio.get_running_loop().time()) > 0:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(left)
    return {"held": True}


_stubborn = StateGraph(HoldState)
_stubborn.add_node("hold_on", hold_on)
_stubborn.add_edge(START, "hold_on")
_stubborn.add_edge("hold_on", END)
stubborn = _stubborn.compile()


class FailState(TypedDict, total=False):
    reason: str


def explode(state: FailState) -> FailState:
    raise ValueError(state.get("reason") or "this graph always fails")


_fails = StateGraph(FailState)
_fails.add_node("explode", explode)
_fails.add_edge(START, "explode")
_fails.add_edge("explode", END)
fails = _fails.compile()


class AskState(TypedDict, total=False):
    question: str
    answer: str


def ask(state: AskState) -> AskState:
    answer = interrupt(state.get("question") or "q")
    return {"answer": str(answer)}


_interrupts = StateGraph(AskState)
_interrupts.add_node("ask", ask)
_interrupts.add_edge(START, "ask")
_interrupts.add_edge("ask", END)
interrupts = _interrupts.compile()
