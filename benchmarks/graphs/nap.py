"""A graph whose one node waits ``seconds`` (1 s unless the input says) without using the CPU:
a run that holds a worker's slot the way a model call does, for the pool's burst."""

from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    seconds: float
    slept: float


async def wait(state: State) -> State:
    seconds = state.get("seconds", 1.0)
    await asyncio.sleep(seconds)
    return {"slept": seconds}


builder = StateGraph(State)
builder.add_node("wait", wait)
builder.add_edge(START, "wait")
builder.add_edge("wait", END)
graph = builder.compile()
