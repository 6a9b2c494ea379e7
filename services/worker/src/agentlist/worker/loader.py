"""Turning a ``langgraph.json`` entry into a graph the worker can run.

The attribute may be a compiled graph, an uncompiled ``StateGraph``, or a factory (sync or
async, taking nothing or the run's ``config``) returning either. Factories are called for each
run with that run's config, as langgraph-api does, so a graph may depend on it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from agentlist.core.targets import TargetError, load_target
from agentlist.worker.graphs_config import ConfigError, GraphEntry, GraphsConfig

_DEFAULT_NAME = "LangGraph"

Graph = Pregel[Any, Any, Any, Any]
"""A compiled graph of any state, context, input and output."""


@dataclass(frozen=True)
class GraphSource:
    """One served graph: a compiled graph, or a factory that makes one per run."""

    graph_id: str
    description: str | None
    compiled: Graph | None = None
    factory: Callable[..., Any] | None = None

    async def build(
        self,
        config: Mapping[str, Any],
        checkpointer: BaseCheckpointSaver[Any] | None,
        store: BaseStore | None,
    ) -> Graph:
        """The graph to run with ``config``, wired to this worker's checkpointer and store
        (replacing whatever the user compiled it with, as langgraph-api does)."""
        graph = self.compiled if self.compiled is not None else await self._produce(config)
        update: dict[str, Any] = {"checkpointer": checkpointer, "store": store}
        if graph.name == _DEFAULT_NAME:
            update["name"] = self.graph_id
        return graph.copy(update=update)

    async def _produce(self, config: Mapping[str, Any]) -> Graph:
        assert self.factory is not None
        takes_config = bool(inspect.signature(self.factory).parameters)
        result = self.factory(dict(config)) if takes_config else self.factory()
        if inspect.isawaitable(result):
            result = await result
        return _as_compiled(result, f"graph factory {self.graph_id!r}")


def load_graphs(config: GraphsConfig) -> dict[str, GraphSource]:
    """Import every graph of ``config`` (call ``apply_environment`` first)."""
    return {entry.graph_id: load_graph(entry, config.folder) for entry in config.graphs}


def load_graph(entry: GraphEntry, folder: Path) -> GraphSource:
    try:
        obj = load_target(entry.path, folder, f"graph {entry.graph_id!r}")
    except TargetError as exc:
        raise ConfigError(str(exc)) from exc
    if isinstance(obj, Pregel | StateGraph):
        return GraphSource(entry.graph_id, entry.description, compiled=_as_compiled(obj, ""))
    if callable(obj):
        return GraphSource(entry.graph_id, entry.description, factory=obj)
    raise ConfigError(
        f"graph {entry.graph_id!r}: {entry.path} is a {type(obj).__name__}, "
        "not a graph or a function returning one"
    )


def _as_compiled(obj: Any, what: str) -> Graph:
    if isinstance(obj, StateGraph):
        obj = obj.compile()
    if not isinstance(obj, Pregel):
        raise TypeError(f"{what} returned a {type(obj).__name__}, not a graph")
    return obj
