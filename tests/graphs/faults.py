"""Graphs the fault tests run. Each node execution records itself in the effect ledger
(``effect_ledger.py``, a Postgres table) with the attempt and the process that ran it, so that a
test can count which steps ran where and how often.
"""

from __future__ import annotations

import asyncio
import operator
import os
import signal
from typing import Annotated, Any, TypedDict

from effect_ledger import record_effect
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph


def _one_node(state: Any, name: str, node: Any) -> Any:
    """A graph of ``node`` alone, from start to end."""
    builder = StateGraph(state)
    builder.add_node(name, node)
    builder.add_edge(START, name)
    builder.add_edge(name, END)
    return builder.compile()


# -- steps: several slow steps, each announced by a custom event ---------------------------------


class Steps(TypedDict, total=False):
    done: Annotated[list[int], operator.add]
    total: int
    delay: float


async def step(state: Steps, config: RunnableConfig) -> Steps:
    number = len(state.get("done") or []) + 1
    entry = await record_effect(config, f"step-{number}")
    get_stream_writer()({"step": number, "attempt": entry["attempt"], "pid": entry["pid"]})
    await asyncio.sleep(state.get("delay", 1.0))
    return {"done": [number]}


def _more(state: Steps) -> str:
    return "step" if len(state.get("done") or []) < state.get("total", 6) else END


_steps = StateGraph(Steps)
_steps.add_node("step", step)
_steps.add_edge(START, "step")
_steps.add_conditional_edges("step", _more, ["step", END])
steps = _steps.compile()
"""``total`` steps of ``delay`` seconds; step ``n`` records ``step-n`` and emits
``{"step": n, "attempt", "pid"}`` as it starts."""


# -- burst: many custom events, quickly -------------------------------------------------------


class Burst(TypedDict, total=False):
    count: int
    pace: float
    emitted: int


async def burst(state: Burst, config: RunnableConfig) -> Burst:
    await record_effect(config, "burst")
    write = get_stream_writer()
    count = state.get("count", 1000)
    pace = state.get("pace", 0.0)
    for i in range(count):
        write({"i": i})
        if pace and i % 10 == 9:
            await asyncio.sleep(pace)
    return {"emitted": count}


bursts = _one_node(Burst, "burst", burst)
"""Records ``burst``, then emits ``count`` custom events ``{"i": 0..count-1}``, pausing ``pace``
s every ten."""


# -- poison: a graph error, and a node that kills its own worker ----------------------------------


class Poison(TypedDict, total=False):
    note: str


async def always_raise(state: Poison, config: RunnableConfig) -> Poison:
    await record_effect(config, "raise")
    raise RuntimeError("this graph always fails")


async def kill_own_worker(state: Poison, config: RunnableConfig) -> Poison:
    await record_effect(config, "kill")
    os.kill(os.getpid(), signal.SIGKILL)
    await asyncio.sleep(60)  # never reached
    return {}


raises = _one_node(Poison, "always_raise", always_raise)
kills_worker = _one_node(Poison, "kill_own_worker", kill_own_worker)


# -- sleepy: one step of ``delay`` seconds (the load of a flood) ----------------------------------


class Sleepy(TypedDict, total=False):
    delay: float
    slept: float


async def nap(state: Sleepy, config: RunnableConfig) -> Sleepy:
    await record_effect(config, "nap")
    delay = state.get("delay", 0.0)
    await asyncio.sleep(delay)
    return {"slept": delay}


sleepy = _one_node(Sleepy, "nap", nap)
