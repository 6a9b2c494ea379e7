"""Reading a ``langgraph.json``: which graphs to serve, from where, with which environment.

The standard format, as the LangGraph CLI writes it::

    {"dependencies": ["."], "graphs": {"agent": "./agent.py:graph"}, "env": "./.env"}

A graph entry is ``"<file or module>:<attribute>"`` or ``{"path": ..., "description": ...}``.
Paths are relative to the file's folder. Keys this runtime does not use are ignored.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlist.contracts import subjects
from agentlist.core.lifecycle import FatalError


class ConfigError(FatalError, ValueError):
    """The ``langgraph.json`` cannot be served as written."""


@dataclass(frozen=True)
class GraphEntry:
    graph_id: str
    path: str
    """``./file.py:attr`` (relative to the config's folder) or ``package.module:attr``."""
    description: str | None = None


@dataclass(frozen=True)
class GraphsConfig:
    folder: Path
    graphs: tuple[GraphEntry, ...]
    dependencies: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def read_config(path: Path) -> GraphsConfig:
    """Parse and check a ``langgraph.json``; graph ids must be subject tokens."""
    path = path.resolve()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("graphs"), dict):
        raise ConfigError(f"{path}: expected an object with a 'graphs' object")
    folder = path.parent
    graphs = tuple(_graph_entry(graph_id, spec, path) for graph_id, spec in raw["graphs"].items())
    dependencies = raw.get("dependencies") or []
    if not isinstance(dependencies, list):
        raise ConfigError(f"{path}: 'dependencies' must be a list")
    return GraphsConfig(
        folder=folder,
        graphs=graphs,
        dependencies=tuple(str(d) for d in dependencies),
        env=_read_env(raw.get("env"), folder),
    )


def _graph_entry(graph_id: str, spec: Any, config_path: Path) -> GraphEntry:
    try:
        subjects.token(graph_id)
    except ValueError as exc:
        raise ConfigError(f"{config_path}: graph id {exc}") from exc
    description = None
    if isinstance(spec, dict):
        description = spec.get("description")
        spec = spec.get("path")
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(
            f"{config_path}: graph {graph_id!r} must be '<file or module>:<attribute>'"
        )
    return GraphEntry(graph_id, spec, str(description) if description is not None else None)


def _read_env(env: Any, folder: Path) -> dict[str, str]:
    if env is None:
        return {}
    if isinstance(env, dict):
        return {str(key): str(value) for key, value in env.items()}
    if isinstance(env, str):
        env_file = folder / env
        try:
            return parse_dotenv(env_file.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read env file {env_file}: {exc}") from exc
    raise ConfigError("'env' must be an object or the path of a .env file")


def parse_dotenv(text: str) -> dict[str, str]:
    """``KEY=value`` lines; ``#`` comments, ``export`` prefixes and matching quotes allowed."""
    values: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key.strip()] = value
    return values


def apply_environment(config: GraphsConfig) -> None:
    """Export the config's ``env`` (an operator's own environment wins) and put the config's
    folder and local dependencies on ``sys.path``, before any graph module is imported."""
    for key, value in config.env.items():
        os.environ.setdefault(key, value)
    local = [config.folder]
    for dependency in config.dependencies:
        candidate = (config.folder / dependency).resolve()
        if dependency.startswith((".", "/")) and candidate.is_dir():
            local.append(candidate)
    for folder in reversed(local):
        entry = str(folder)
        if entry not in sys.path:
            sys.path.insert(0, entry)
