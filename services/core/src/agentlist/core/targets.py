"""Importing what a ``langgraph.json`` names as ``"<file or module>:<attribute>"``: the graphs a
worker serves, and the API's ``auth`` object.

A file path is taken relative to the config's folder (which the caller has put on
``sys.path``). A file inside that folder is imported under its natural module name, so that
``import graphs`` elsewhere finds the same module object and the classes it pickles into
checkpoints have stable names; one outside it gets a unique name of its own.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any


class TargetError(ValueError):
    """The target names no file, module or attribute that can be imported."""


def load_target(spec: str, folder: Path, what: str) -> Any:
    """The object ``spec`` names; ``what`` (``"graph 'agent'"``) starts each error message."""
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise TargetError(f"{what}: {spec!r} is not '<file or module>:<attribute>'")
    obj: Any = _import(target, folder, what)
    try:
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise TargetError(f"{what}: {target} has no {attribute!r}") from exc
    return obj


def _is_file_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or target.startswith(".")


def _import(target: str, folder: Path, what: str) -> ModuleType:
    if not _is_file_path(target):
        return importlib.import_module(target)
    path = (folder / target).resolve()
    if not path.is_file():
        raise TargetError(f"{what}: file {path} does not exist")
    return _import_file(path, folder, what)


def _import_file(path: Path, folder: Path, what: str) -> ModuleType:
    name = _module_name(path, folder)
    if name is not None and _natural_name_finds(name, path):
        return importlib.import_module(name)
    unique = f"agentlist_target_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{what}: cannot import {path}")
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
