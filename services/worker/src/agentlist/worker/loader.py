"""Turning a ``langgraph.json`` entry into a graph the worker can run.

The attribute may be a compiled graph, an uncompiled ``StateGraph``, or a factory (sync or
async, taking nothing or the run's ``config``) returning either. Factories are called for each
run with that run's config, as langgraph-api does, so a graph may depend on it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

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
    target, _, attribute = entry.path.rpartition(":")
    module = _import_target(target, folder)
    obj: Any = module
    try:
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise ConfigError(f"graph {entry.graph_id!r}: {target} has no {attribute!r}") from exc
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


def _is_file_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or target.startswith(".")


def _import_target(target: str, folder: Path) -> ModuleType:
    if not _is_file_path(target):
        return importlib.import_module(target)
    path = (folder / target).resolve()
    if not path.is_file():
        raise ConfigError(f"graph file {path} does not exist")
    return _import_file(path, folder)


def _import_file(path: Path, folder: Path) -> ModuleType:
    """Import a graph file under its natural module name when it lies within the config's
    folder (which is on ``sys.path``), so that ``import graphs`` elsewhere finds the same module
    object and the classes it pickles into checkpoints have stable names."""
    name = _module_name(path, folder)
    if name is not None and _natural_name_finds(name, path):
        return importlib.import_module(name)
    unique = f"agentlist_graph_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[unique] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[unique]
        raise
    return module


def _module_name(path: Path, folder: Path) -> str | None:
    try:
        relative = path.relative_to(folder.resolve())
    except ValueError:
        return None
    parts = [*relative.parent.parts, relative.stem]
    if not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def _natural_name_finds(name: str, path: Path) -> bool:
    existing = sys.modules.get(name)
    if existing is not None:
        return _same_file(existing, path)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.origin is not None and Path(spec.origin).resolve() == path


def _same_file(module: ModuleType, path: Path) -> bool:
    filename = getattr(module, "__file__", None)
    return filename is not None and Path(filename).resolve() == path
