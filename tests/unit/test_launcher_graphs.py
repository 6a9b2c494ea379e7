"""`agentlist dev` gives each graph to a worker of its language."""

from __future__ import annotations

import json
from pathlib import Path

from agentlist.launcher.graphs import graph_language, languages_of, split_by_language


def test_graph_language_by_file_suffix() -> None:
    assert graph_language("./agent.py:graph") == "python"
    assert graph_language("my_package.agent:graph") == "python"
    assert graph_language("./src/agent.ts:graph") == "javascript"
    assert graph_language({"path": "./agent.mjs:graph", "description": "d"}) == "javascript"


def test_a_single_language_config_is_used_as_it_is(tmp_path: Path) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"a": "./a.py:g"}}))
    assert split_by_language(config, tmp_path / "out") == {"python": config}


def test_a_mixed_config_is_split_with_absolute_paths(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    config = project / "langgraph.json"
    config.write_text(
        json.dumps(
            {
                "dependencies": ["."],
                "graphs": {
                    "py": "./agent.py:graph",
                    "js": {"path": "./src/agent.ts:graph"},
                    "mod": "pkg.m:g",
                },
                "env": "./.env",
                "http": {"cors": {}},
            }
        )
    )
    out = tmp_path / "out"
    out.mkdir()
    assert languages_of(config) == {"python", "javascript"}
    split = split_by_language(config, out)
    python = json.loads(split["python"].read_text())
    javascript = json.loads(split["javascript"].read_text())
    assert python["graphs"] == {"py": f"{project}/agent.py:graph", "mod": "pkg.m:g"}
    assert javascript["graphs"] == {"js": {"path": f"{project}/src/agent.ts:graph"}}
    assert python["dependencies"] == [str(project)] and python["env"] == f"{project}/.env"
    assert javascript["http"] == {"cors": {}}
