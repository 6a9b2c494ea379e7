"""The worker reads a langgraph.json: files relative to it, modules, factories, StateGraphs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel

from agentlist.worker.describe import describe
from agentlist.worker.graphs_config import (
    ConfigError,
    apply_environment,
    parse_dotenv,
    read_config,
)
from agentlist.worker.loader import GraphSource, load_graphs

GRAPHS = Path(__file__).parents[1] / "graphs"


@pytest.fixture(autouse=True)
def _isolated_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading changes sys.path and os.environ; keep those changes inside each test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(os, "environ", dict(os.environ))


def write_config(folder: Path, graphs: dict[str, object], **extra: object) -> Path:
    path = folder / "langgraph.json"
    path.write_text(json.dumps({"dependencies": ["."], "graphs": graphs, **extra}))
    return path


def load(path: Path) -> dict[str, GraphSource]:
    config = read_config(path)
    apply_environment(config)
    return dict(load_graphs(config))


async def test_relative_file_env_first_and_every_shape(tmp_path: Path) -> None:
    (tmp_path / "my_agent.py").write_text(
        "import os\n"
        "assert os.environ['WORKER_TEST_KEY'] == 'set-by-config'\n"
        "from worker_graphs import nested, uncompiled, make_nested, make_nested_async\n"
    )
    path = write_config(
        tmp_path,
        {
            "compiled": "./my_agent.py:nested",
            "uncompiled": "./my_agent.py:uncompiled",
            "factory": {"path": "./my_agent.py:make_nested", "description": "made per run"},
            "async_factory": "./my_agent.py:make_nested_async",
        },
        env={"WORKER_TEST_KEY": "set-by-config"},
    )
    sys.path.insert(0, str(GRAPHS))
    sources = load(path)
    assert set(sources) == {"compiled", "uncompiled", "factory", "async_factory"}
    saver = InMemorySaver()
    for graph_id, source in sources.items():
        graph = await source.build({"configurable": {"thread_id": "t"}}, saver, None)
        assert isinstance(graph, Pregel)
        assert graph.checkpointer is saver, graph_id
        result = await graph.ainvoke({"text": "x"}, {"configurable": {"thread_id": graph_id}})
        assert result["log"][0] == "outer"
    assert sources["factory"].description == "made per run"


def test_module_path_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("# comment\nexport WORKER_DOTENV='quoted'\nOTHER=a # trailing\n")
    path = write_config(
        tmp_path, {"example": "agentlist.worker.examples.agent:graph"}, env="./.env"
    )
    sources = load(path)
    assert os.environ["WORKER_DOTENV"] == "quoted"
    assert os.environ["OTHER"] == "a"
    assert str(tmp_path) in sys.path
    assert "example" in sources


def test_operator_environment_wins(tmp_path: Path) -> None:
    os.environ["WORKER_PRESET"] = "operator"
    path = write_config(tmp_path, {}, env={"WORKER_PRESET": "config"})
    load(path)
    assert os.environ["WORKER_PRESET"] == "operator"


def test_unknown_keys_are_ignored_and_bad_entries_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, {}, python_version="3.12", store={"index": {}})
    assert read_config(path).graphs == ()
    with pytest.raises(ConfigError, match="subject token"):
        read_config(write_config(tmp_path, {"bad.id": "./x.py:g"}))
    with pytest.raises(ConfigError, match="does not exist"):
        load(write_config(tmp_path, {"g": "./missing.py:graph"}))
    (tmp_path / "not_graph.py").write_text("thing = 42\n")
    with pytest.raises(ConfigError, match="not a graph"):
        load(write_config(tmp_path, {"g": "./not_graph.py:thing"}))


def test_same_file_is_imported_once(tmp_path: Path) -> None:
    (tmp_path / "shared_graphs.py").write_text(
        "from agentlist.worker.examples.agent import builder\n"
        "one = builder.compile()\ntwo = builder.compile()\n"
    )
    sources = load(
        write_config(tmp_path, {"a": "./shared_graphs.py:one", "b": "./shared_graphs.py:two"})
    )
    module = sys.modules["shared_graphs"]
    assert sources["a"].compiled is module.one
    assert sources["b"].compiled is module.two


def test_parse_dotenv() -> None:
    assert parse_dotenv("A=1\n\nB = 'two words'\n#C=3\nD=\"x\"") == {
        "A": "1",
        "B": "two words",
        "D": "x",
    }


async def test_describe_reports_schemas_drawables_and_subgraphs(tmp_path: Path) -> None:
    sys.path.insert(0, str(GRAPHS))
    path = write_config(tmp_path, {"nested": "worker_graphs:nested"})
    source = load(path)["nested"]
    info = await describe(source)
    assert info.graph_id == "nested"
    assert set(info.schemas.input_schema["properties"]) == {"text", "log"}  # type: ignore[index]
    assert set(info.schemas.state_schema["properties"]) == {"text", "log"}  # type: ignore[index]
    assert set(info.drawable) == {"0", "1"}
    assert "child" in info.subgraphs
    node_ids = {node["id"] for node in info.drawable["1"]["nodes"]}
    assert any("inner_step" in node_id for node_id in node_ids)
