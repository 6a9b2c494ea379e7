"""Which worker runtime serves which graphs of a ``langgraph.json``.

Graph paths ending in ``.ts``, ``.mts``, ``.js`` or ``.mjs`` are LangGraph.js graphs, served by
the TypeScript worker; the rest are Python graphs. A config mixing both is split into one
config per language, written to the stack's own folder with every relative path made absolute.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

Language = Literal["python", "javascript"]
_JS_SUFFIXES = (".ts", ".mts", ".cts", ".js", ".mjs", ".cjs")


def _path_of(spec: str | dict[str, Any]) -> str:
    return spec if isinstance(spec, str) else str(spec.get("path", ""))


def graph_language(spec: str | dict[str, Any]) -> Language:
    module = _path_of(spec).rsplit(":", 1)[0]
    return "javascript" if module.endswith(_JS_SUFFIXES) else "python"


def _absolute(value: str, base: Path) -> str:
    """A file path made absolute; a dotted module path (``package.module``) left alone."""
    is_file = value.startswith((".", "/")) or "/" in value or value.endswith((".py", *_JS_SUFFIXES))
    return str((base / value).resolve()) if is_file else value


def _absolute_spec(spec: str | dict[str, Any], base: Path) -> str | dict[str, Any]:
    module, _, attribute = _path_of(spec).rpartition(":")
    located = f"{_absolute(module, base)}:{attribute}" if module else _path_of(spec)
    return located if isinstance(spec, str) else {**spec, "path": located}


def languages_of(config: Path) -> set[Language]:
    graphs: dict[str, Any] = json.loads(config.read_text()).get("graphs") or {}
    return {graph_language(spec) for spec in graphs.values()} or {"python"}


def split_by_language(config: Path, out_dir: Path) -> dict[Language, Path]:
    """One config per language present; a single-language config is returned as it is."""
    document = json.loads(config.read_text())
    if len(languages_of(config)) == 1:
        return {next(iter(languages_of(config))): config}
    base = config.resolve().parent
    shared = {
        **document,
        "dependencies": [_absolute(dep, base) for dep in document.get("dependencies") or ["."]],
    }
    if isinstance(document.get("env"), str):
        shared["env"] = _absolute(document["env"], base)
    split: dict[Language, Path] = {}
    for language in ("python", "javascript"):
        subset = {
            graph_id: _absolute_spec(spec, base)
            for graph_id, spec in (document.get("graphs") or {}).items()
            if graph_language(spec) == language
        }
        target = out_dir / f"langgraph.{language}.json"
        target.write_text(json.dumps({**shared, "graphs": subset}, indent=2))
        split[language] = target
    return split
