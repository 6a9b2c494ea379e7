"""The suite's ``agent`` and ``slow`` graphs (``graphs.py``), each of whose steps records its
execution in the effect ledger first (``effect_ledger.py``): what the mesh's fault and scale
tests run, to count how often each step of each run was executed.

Steps are named by what they do, not by LangGraph's step counter: ``prepare`` and ``respond``
for ``agent``, ``step-<n>`` for the ``n``-th step of ``slow``.
"""

from __future__ import annotations

from typing import Any

import graphs
from effect_ledger import record_effect
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

AGENT_STEPS = ("prepare", "respond")


def slow_steps(total: int) -> tuple[str, ...]:
    return tuple(f"step-{n}" for n in range(1, total + 1))


async def prepare(state: graphs.ChatState, config: RunnableConfig) -> graphs.ChatState:
    await record_effect(config, "prepare")
    return graphs.prepare(state)


async def respond(state: graphs.ChatState, config: RunnableConfig) -> graphs.ChatState:
    await record_effect(config, "respond")
    return await graphs.respond(state)


def _agent() -> Any:
    builder = StateGraph(graphs.ChatState)
    builder.add_node("prepare", prepare)
    builder.add_node("respond", respond)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "respond")
    builder.add_edge("respond", END)
    return builder.compile()


async def step(state: graphs.SlowState, config: RunnableConfig) -> graphs.SlowState:
    await record_effect(config, f"step-{len(state.get('steps') or []) + 1}")
    return await graphs.step(state)


def _slow() -> Any:
    builder = StateGraph(graphs.SlowState)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", graphs.more_steps, ["step", END])
    return builder.compile()


agent = _agent()
slow = _slow()
