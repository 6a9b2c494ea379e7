"""What ``agentlist dev`` checks before it starts anything: the ``langgraph.json``, the port.

Each problem is one line naming the file and what is wrong. No user code runs here: a Python
graph's module is found and parsed (its attribute must be bound at the module's top level), a
JavaScript graph's file is searched for the export's name.
"""

from __future__ import annotations

import ast
import errno
import importlib.util
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from agentlist.launcher.graphs import graph_language
from agentlist.worker.graphs_config import ConfigError, read_config


def config_problems(config: Path) -> list[str]:
    """Every reason ``config`` cannot be served, one line each (empty: it can)."""
    if not config.is_file():
        return [f"{config}: no such file"]
    try:
        document = json.loads(config.read_text())
    except UnicodeDecodeError:
        return [f"{config}: not a text file"]
    except json.JSONDecodeError as exc:
        return [f"{config}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
    try:
        parsed = read_config(config)
    except ConfigError as exc:
        return [str(exc).splitlines()[0]]
    folders = _import_folders(parsed.folder, parsed.dependencies)
    problems = [
        f"{config}: graph {graph_id!r}: {problem}"
        for graph_id, spec in document["graphs"].items()
        if (problem := target_problem(_path_of(spec), folders)) is not None
    ]
    auth = document.get("auth")
    auth_path = auth.get("path") if isinstance(auth, dict) else None
    if isinstance(auth_path, str) and (problem := target_problem(auth_path, folders)) is not None:
        problems.append(f"{config}: auth: {problem}")
    return problems


def target_problem(spec: str, folders: list[Path]) -> str | None:
    """Why ``<file or module>:<attribute>`` names nothing (``folders[0]``: the config's)."""
    module, _, attribute = spec.rpartition(":")
    if not module or (not attribute and graph_language(spec) == "python"):
        return f"{spec!r} is not '<file or module>:<attribute>'"
    if graph_language(spec) == "javascript":
        return _js_export_problem(folders[0] / module, attribute or "default")
    return _python_attribute_problem(module, attribute, folders)


def _path_of(spec: Any) -> str:
    return str(spec.get("path", "")) if isinstance(spec, dict) else str(spec)


def _import_folders(folder: Path, dependencies: tuple[str, ...]) -> list[Path]:
    """Where the worker imports from: the config's folder, then its local dependencies."""
    local = [(folder / d).resolve() for d in dependencies if d.startswith((".", "/"))]
    return [folder, *(path for path in local if path.is_dir() and path != folder)]


# -- JavaScript ----------------------------------------------------------------------------


def _js_export_problem(file: Path, export: str) -> str | None:
    if not file.is_file():
        return f"file {file} does not exist"
    source = file.read_text(errors="replace")
    return None if js_exports(source, export) else f"{file} exports no {export!r}"


_JS_REEXPORT_ALL = re.compile(r"\bexport\s*\*\s*from\b")


def js_exports(source: str, name: str) -> bool:
    """Whether ``source`` may export ``name`` (a textual check: ``export * from`` and
    CommonJS ``module.exports`` count as yes)."""
    top = re.escape(name.split(".")[0])
    if name == "default":
        declared = r"\bexport\s+default\b|\bas\s+default\b"
    else:
        declared = (
            rf"\bexport\s+(?:declare\s+)?(?:async\s+)?"
            rf"(?:const|let|var|function\s*\*?|class)\s+{top}\b"
            rf"|\bexport\s*\{{[^}}]*\b{top}\b[^}}]*\}}"
            rf"|\bexports\.{top}\b"
        )
    return bool(
        re.search(declared, source)
        or _JS_REEXPORT_ALL.search(source)
        or re.search(r"\bmodule\.exports\b", source)
    )


# -- Python --------------------------------------------------------------------------------


def _python_attribute_problem(module: str, attribute: str, folders: list[Path]) -> str | None:
    if _is_file_path(module):
        file = (folders[0] / module).resolve()
        if not file.is_file():
            return f"file {file} does not exist"
    else:
        found = _find_module(module, folders)
        if found is None:
            return f"no module named {module!r}"
        if found is INSTALLED:
            return None  # an installed package: checking it would mean importing it
        file = found
    try:
        tree = ast.parse(file.read_bytes(), filename=str(file))
    except SyntaxError as exc:
        return f"{file}, line {exc.lineno}: {exc.msg}"
    except ValueError as exc:
        return f"{file}: {exc}"
    name = attribute.split(".")[0]
    return None if may_define(tree, name) else f"{file} defines no {name!r}"


def _is_file_path(target: str) -> bool:
    # As agentlist.core.targets decides: a file path, else a dotted module path.
    return target.endswith(".py") or "/" in target or target.startswith(".")


INSTALLED: Final = Path("<installed>")
"""What :func:`_find_module` says of a module found among the installed packages."""


def _find_module(dotted: str, folders: list[Path]) -> Path | None:
    """The source file of ``dotted`` in the worker's import folders; :data:`INSTALLED` when a
    package of that name is installed instead (only its top level is looked up, which runs
    no code); None when neither."""
    relative = Path(*dotted.split("."))
    for folder in folders:
        for candidate in (folder / f"{relative}.py", folder / relative / "__init__.py"):
            if candidate.is_file():
                return candidate
    top = dotted.split(".")[0]
    try:
        return INSTALLED if importlib.util.find_spec(top) is not None else None
    except (ImportError, ValueError):
        return None


def may_define(tree: ast.Module, name: str) -> bool:
    """Whether the module binds ``name`` at its top level (or may, by ``import *`` or a
    module ``__getattr__``)."""
    bound = set(_top_level_names(tree))
    return name in bound or "*" in bound or "__getattr__" in bound


def _top_level_names(tree: ast.Module) -> Iterator[str]:
    """Names bound by the module's own statements, those under ``if``/``try``/``with``/``for``
    included; function and class bodies excluded."""
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                yield alias.asname or alias.name.split(".")[0]
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id
        if isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))


# -- the port ------------------------------------------------------------------------------


def port_problem(host: str, port: int) -> str | None:
    """Why the API could not listen on ``host:port`` (None: it can). Bound the way uvicorn
    binds, so a closing connection in TIME_WAIT does not count as busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} is already in use on {host}: choose another with --port"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None
