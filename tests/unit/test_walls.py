"""The walls between the distributions hold (``docs/architecture.md``).

The rules live in one place, ``[tool.importlinter]`` of the root ``pyproject.toml``; the first
test runs them. The second checks that each distribution declares every package it imports,
so that a service or the worker installed alone into an environment of its own imports
nothing it did not bring.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
WORKSPACE = tomllib.loads((REPO / "pyproject.toml").read_text())
MEMBERS = [REPO / member for member in WORKSPACE["tool"]["uv"]["workspace"]["members"]]


def test_no_import_crosses_a_wall() -> None:
    lint = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]


def _imported_top_levels(source: Path) -> set[str]:
    """Top-level names imported anywhere in ``source`` (``agentlist.x`` kept as such)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names.add(".".join(parts[:2]) if parts[0] == "agentlist" else parts[0])
    return names


def _declared(member: Path) -> set[str]:
    project = tomllib.loads((member / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def _distribution_of(top_level: str) -> set[str]:
    if top_level.startswith("agentlist."):
        part = top_level.removeprefix("agentlist.")
        return {"agentlist" if part in ("cli", "launcher") else f"agentlist-{part}"}
    return {d.lower().replace("_", "-") for d in packages_distributions().get(top_level, [])}


@pytest.mark.parametrize("member", MEMBERS, ids=[m.name for m in MEMBERS])
def test_each_distribution_declares_what_it_imports(member: Path) -> None:
    own = {tomllib.loads((member / "pyproject.toml").read_text())["project"]["name"]}
    allowed = _declared(member) | own
    undeclared: dict[str, str] = {}
    for source in (member / "src").rglob("*.py"):
        for name in _imported_top_levels(source):
            if name in sys.stdlib_module_names or name == "__future__":
                continue
            if not _distribution_of(name) & allowed:
                undeclared.setdefault(name, source.relative_to(REPO).as_posix())
    assert undeclared == {}, "imported without being a dependency of the distribution"
