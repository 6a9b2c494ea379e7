"""A graph whose one node waits 200 ms without using the CPU (a stand-in for a model call)."""

from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.graph import END, START, StateGraph

SLEEP_SECONDS = 0.2


class State(TypedDict):
    value: int


async def wait(state: State) -> State:
    await asyncio.sleep(SLEEP_SECONDS)
    return {"value": state["value"] + 1}


builder = StateGraph(State)
builder.add_node("wait", wait)
builder.add_edge(START, "wait")
builder.add_edge("wait", END)
graph = builder.compile()
