"""Running a graph for a dispatch and producing its events in langgraph-api's naming."""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from typing import Any, cast
from uuid import UUID

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command, Send

from agentlist.contracts import RunDispatch, RunKwargs
from agentlist.worker.loader import Graph
from agentlist.worker.translate import ChunkTranslator, EventPair, StreamPlan, plan_stream

_HIDDEN_TAG = "langsmith:hidden"

Chunk = tuple[Sequence[str], str, Any]
"""``(namespace, mode, chunk)``; mode ``events`` carries one ``astream_events`` dict."""


def run_config(dispatch: RunDispatch) -> dict[str, Any]:
    """The run's config: the API's merged config, the ids LangGraph needs, and the run id in
    ``metadata`` so that every checkpoint the run writes records it (resume and rollback
    find the run's checkpoints by it)."""
    params = dispatch.params
    config = copy.deepcopy(params.config)
    configurable = config.setdefault("configurable", {})
    configurable.setdefault("thread_id", dispatch.thread_id)
    configurable.setdefault("run_id", dispatch.run_id)
    configurable.setdefault("graph_id", dispatch.graph_id)
    configurable.setdefault("assistant_id", dispatch.assistant_id)
    metadata = config.setdefault("metadata", {})
    metadata["run_id"] = dispatch.run_id
    metadata.setdefault("thread_id", dispatch.thread_id)
    metadata.setdefault("graph_id", dispatch.graph_id)
    metadata.setdefault("assistant_id", dispatch.assistant_id)
    metadata["run_attempt"] = dispatch.attempt
    if params.checkpoint is not None and params.checkpoint.checkpoint_id:
        configurable["checkpoint_id"] = params.checkpoint.checkpoint_id
        configurable["checkpoint_ns"] = params.checkpoint.checkpoint_ns
        if params.checkpoint.checkpoint_map is not None:
            configurable["checkpoint_map"] = params.checkpoint.checkpoint_map
    root_run_id = _uuid(dispatch.run_id)
    if root_run_id is not None:
        # The root of ``astream_events`` then carries the run's id, as in langgraph-api.
        config["run_id"] = root_run_id
    return config


def thread_config(thread_id: str) -> RunnableConfig:
    """Reads the thread's latest checkpoint."""
    return {"configurable": {"thread_id": thread_id}}


def without_fork(config: dict[str, Any]) -> dict[str, Any]:
    """The config continuing from the thread's latest checkpoint (a retried attempt)."""
    resumed = dict(config)
    configurable = dict(resumed.get("configurable") or {})
    for key in ("checkpoint_id", "checkpoint_map"):
        configurable.pop(key, None)
    configurable["checkpoint_ns"] = ""
    resumed["configurable"] = configurable
    return resumed


def run_input(params: RunKwargs) -> Any:
    """A ``Command`` when the run carries one, else its input."""
    if params.command:
        return to_command(params.command)
    return params.input


def to_command(command: dict[str, Any]) -> Command[Any]:
    """``{resume, update, goto}`` as LangGraph's ``Command``; ``goto`` may be a node name, a
    ``{"node", "input"}`` Send, or a list of either."""
    goto = command.get("goto")
    if goto is not None and not isinstance(goto, list):
        goto = [goto]
    update = command.get("update")
    if isinstance(update, list) and all(_is_pair(item) for item in update):
        update = [tuple(item) for item in update]
    return Command(
        update=update,
        resume=command.get("resume"),
        goto=[_goto_target(target) for target in goto] if goto else (),
    )


def _is_pair(item: Any) -> bool:
    return isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)


def _goto_target(target: Any) -> str | Send:
    if isinstance(target, dict):
        return Send(target["node"], target.get("input"))
    return str(target)


def stream_kwargs(params: RunKwargs, plan: StreamPlan) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "stream_mode": list(plan.graph_modes),
        "subgraphs": plan.subgraphs,
        "durability": params.durability,
    }
    if params.context:
        kwargs["context"] = params.context
    if params.interrupt_before is not None:
        kwargs["interrupt_before"] = params.interrupt_before
    if params.interrupt_after is not None:
        kwargs["interrupt_after"] = params.interrupt_after
    return kwargs


async def graph_events(
    graph: Graph, graph_input: Any, config: dict[str, Any], params: RunKwargs
) -> AsyncIterator[EventPair]:
    """Run the graph and yield ``(event name, data)`` pairs in the order LangGraph emits."""
    plan = plan_stream(params.stream_mode, params.subgraphs)
    translator = ChunkTranslator(plan)
    kwargs = stream_kwargs(params, plan)
    if plan.use_events:
        source = _from_astream_events(graph, graph_input, config, kwargs, plan)
    else:
        source = _from_astream(graph, graph_input, config, kwargs, plan)
    async with aclosing(source) as chunks:
        async for namespace, mode, chunk in chunks:
            for pair in translator.translate(namespace, mode, chunk):
                yield pair


async def _from_astream(
    graph: Graph, graph_input: Any, config: Any, kwargs: dict[str, Any], plan: StreamPlan
) -> AsyncGenerator[Chunk, None]:
    stream = cast(AsyncGenerator[Any, None], graph.astream(graph_input, config, **kwargs))
    async with aclosing(stream):
        async for item in stream:
            yield _split(item, plan.subgraphs)


async def _from_astream_events(
    graph: Graph, graph_input: Any, config: Any, kwargs: dict[str, Any], plan: StreamPlan
) -> AsyncGenerator[Chunk, None]:
    """``events`` mode: every callback event is sent as ``events``; the root graph's own
    stream chunks carry the other requested modes (langgraph-api does the same)."""
    events = graph.astream_events(graph_input, config, version="v2", **kwargs)
    stream = cast(AsyncGenerator[dict[str, Any], None], events)
    async with aclosing(stream):
        async for event in stream:
            if _HIDDEN_TAG in (event.get("tags") or ()):
                continue
            if event["event"] == "on_chain_stream" and not event.get("parent_ids"):
                yield _split(event["data"]["chunk"], plan.subgraphs)
            else:
                yield (), "events", event


def _split(item: Any, subgraphs: bool) -> Chunk:
    if subgraphs:
        namespace, mode, chunk = item
        return tuple(namespace), mode, chunk
    mode, chunk = item
    return (), mode, chunk


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
