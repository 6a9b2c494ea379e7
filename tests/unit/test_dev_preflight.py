"""What ``agentlist dev`` checks before it starts anything (pure helpers, no process)."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from agentlist.launcher import datafolder
from agentlist.launcher.preflight import config_problems, js_exports, may_define, port_problem

MODULE = """
import os.path
from typing import Any as Whatever
if os.environ.get("X"):
    graph = 1
else:
    def graph(config): ...
try:
    from fast import thing
except ImportError:
    thing = None
class Built: ...
def _factory():
    hidden = 1
"""


@pytest.mark.parametrize("name", ["os", "Whatever", "graph", "thing", "Built", "_factory"])
def test_a_name_bound_at_the_top_level_is_defined(name: str) -> None:
    assert may_define(ast.parse(MODULE), name)


@pytest.mark.parametrize("name", ["hidden", "path", "Any", "missing"])
def test_a_name_bound_elsewhere_or_nowhere_is_not(name: str) -> None:
    assert not may_define(ast.parse(MODULE), name)


def test_star_imports_and_module_getattr_may_define_anything() -> None:
    assert may_define(ast.parse("from graphs import *"), "agent")
    assert may_define(ast.parse("def __getattr__(name): ..."), "agent")


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("export const agent = build();", "agent"),
        ("export async function makeGraph(config) {}", "makeGraph"),
        ("const g = 1;\nexport { g as agent, other };", "agent"),
        ("export { agent } from './graph.js';", "agent"),
        ("export default graph;", "default"),
        ("export * from './graph.js';", "agent"),
        ("module.exports = { agent };", "agent"),
    ],
)
def test_js_exports(source: str, name: str) -> None:
    assert js_exports(source, name)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("const agent = build();", "agent"),
        ("export const agents = build();", "agent"),
        ("export { graph };", "agent"),
        ("export const agent = 1;", "default"),
    ],
)
def test_js_does_not_export(source: str, name: str) -> None:
    assert not js_exports(source, name)


def test_a_servable_config_has_no_problem(tmp_path: Path) -> None:
    (tmp_path / "graphs.py").write_text("agent = object()\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("from graphs import agent\n")
    (tmp_path / "chat.ts").write_text("export const agent = 1;\n")
    config = tmp_path / "langgraph.json"
    config.write_text(
        '{"graphs": {"a": "./graphs.py:agent", "b": "pkg.mod:agent", "c": "./chat.ts:agent",'
        ' "d": "json:loads"}, "auth": {"path": "./graphs.py:agent"}}'
    )
    assert config_problems(config) == []


def test_each_problem_is_a_line_naming_the_config(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def graph(:\n")
    config = tmp_path / "langgraph.json"
    config.write_text(
        '{"graphs": {"a": "./broken.py:graph", "b": "nowhere.module:graph",'
        ' "c": "./graphs.py"}, "auth": {"path": "./auth.py:auth"}}'
    )
    problems = config_problems(config)
    assert all(p.startswith(f"{config}: ") and "\n" not in p for p in problems)
    assert len(problems) == 1 and "'<file or module>:<attribute>'" in problems[0]
    config.write_text(
        '{"graphs": {"a": "./broken.py:graph", "b": "nowhere.module:graph"},'
        ' "auth": {"path": "./auth.py:auth"}}'
    )
    problems = config_problems(config)
    assert [p.split(": ", 2)[1] for p in problems] == ["graph 'a'", "graph 'b'", "auth"]
    assert "broken.py, line 1" in problems[0]
    assert "no module named 'nowhere.module'" in problems[1]
    assert "auth.py does not exist" in problems[2]


def test_a_config_without_graphs_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text("[]")
    assert config_problems(config) == [f"{config}: expected an object with a 'graphs' object"]


def test_a_listening_port_is_busy_and_a_closed_one_free() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        server.listen()
        assert f"port {port} is already in use" in (port_problem("127.0.0.1", port) or "")
    assert port_problem("127.0.0.1", port) is None


def test_the_project_folder_sits_beside_the_config(tmp_path: Path) -> None:
    config = tmp_path / "app" / "langgraph.json"
    assert datafolder.project_folder(config, tmp_path / "cwd") == tmp_path / "app" / ".agentlist"
    assert datafolder.project_folder(None, tmp_path) == tmp_path / ".agentlist"


def test_a_folder_is_held_by_one_process_at_a_time(tmp_path: Path) -> None:
    datafolder.prepare(tmp_path, ignored_by_git=True)
    assert (tmp_path / ".gitignore").read_text() == "*\n"
    held = datafolder.lock(tmp_path)
    try:
        with pytest.raises(datafolder.FolderInUseError, match="in use by another agentlist dev"):
            datafolder.lock(tmp_path)
    finally:
        held.close()
    datafolder.lock(tmp_path).close()  # released with its holder


def test_a_parent_closed_to_others_is_named(tmp_path: Path) -> None:
    closed = tmp_path / "private"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    assert datafolder.untraversable_parent(closed / "project" / ".agentlist") == closed
    closed.chmod(0o755)
    tmp_path.chmod(0o755)
    found = datafolder.untraversable_parent(closed / "project" / ".agentlist")
    assert found is None or found not in (closed, tmp_path)
