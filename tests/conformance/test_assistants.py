"""Conformance checklist 1-12 (research/api-surface.md §8): meta routes and assistants,
through the official ``langgraph-sdk``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError
from serverkit import GRAPHS_CONFIG

from agentlist.launcher import Stack

SYSTEM_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


async def test_01_ok_and_info_without_auth(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        ok = await http.get("/ok")
        info = await http.get("/info")
    assert ok.status_code == 200 and ok.json()["ok"] is True
    assert info.status_code == 200
    assert info.json()["version"] and {"assistants", "crons"} <= set(info.json()["flags"])


async def test_02_one_system_assistant_per_graph(sdk: Any) -> None:
    found = await sdk.assistants.search(metadata={"created_by": "system"}, limit=1000)
    graphs = [a["graph_id"] for a in found]
    assert len(graphs) == len(set(graphs))
    # Other stacks on the session's servers add theirs: the stack's own are all there.
    served = set(json.loads(GRAPHS_CONFIG.read_text())["graphs"])
    assert served <= set(graphs), served - set(graphs)
    for assistant in found:
        assert assistant["assistant_id"] == str(uuid.uuid5(SYSTEM_NAMESPACE, assistant["graph_id"]))


async def test_03_search_shape_and_pagination_total(stack: Stack, sdk: Any) -> None:
    found = await sdk.assistants.search()
    keys = {
        "assistant_id",
        "graph_id",
        "config",
        "context",
        "metadata",
        "version",
        "name",
        "created_at",
        "updated_at",
    }
    assert found and all(keys <= set(a) for a in found)
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        response = await http.post("/assistants/search", json={})
    assert int(response.headers["x-pagination-total"]) >= len(found)


async def test_04_search_as_object_with_next(sdk: Any) -> None:
    page = await sdk.assistants.search(limit=1, response_format="object")
    assert len(page["assistants"]) == 1 and page["next"] == "1"


async def test_05_create_twice_conflicts_unless_do_nothing(sdk: Any) -> None:
    assistant_id = str(uuid.uuid4())
    first = await sdk.assistants.create(graph_id="agent", assistant_id=assistant_id, name="first")
    with pytest.raises(ConflictError):
        await sdk.assistants.create(graph_id="agent", assistant_id=assistant_id)
    again = await sdk.assistants.create(
        graph_id="agent", assistant_id=assistant_id, if_exists="do_nothing", name="x"
    )
    assert again["assistant_id"] == first["assistant_id"] and again["name"] == "first"


async def test_06_unknown_graph_is_not_found(sdk: Any) -> None:
    with pytest.raises(NotFoundError):
        await sdk.assistants.create(graph_id="nope")


async def test_07_every_patch_is_a_version(sdk: Any) -> None:
    created = await sdk.assistants.create(graph_id="agent", metadata={"team": "x"})
    updated = await sdk.assistants.update(created["assistant_id"], metadata={"a": 1})
    assert updated["version"] == 2 and updated["metadata"] == {"team": "x", "a": 1}
    versions = await sdk.assistants.get_versions(created["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    latest = await sdk.assistants.set_latest(created["assistant_id"], 1)
    assert latest["version"] == 1 and latest["metadata"] == {"team": "x"}
    assert (await sdk.assistants.get(created["assistant_id"]))["version"] == 1


async def test_08_count_matches_search(sdk: Any) -> None:
    count = await sdk.assistants.count(graph_id="agent")
    assert count == len(await sdk.assistants.search(graph_id="agent", limit=1000))


async def test_09_drawable_graph_by_id_or_graph_name(sdk: Any) -> None:
    system = str(uuid.uuid5(SYSTEM_NAMESPACE, "nested"))
    plain = await sdk.assistants.get_graph(system)
    assert {"nodes", "edges"} <= set(plain)
    xray = await sdk.assistants.get_graph(system, xray=1)
    assert len(xray["nodes"]) > len(plain["nodes"])
    assert (await sdk.assistants.get_graph("nested")) == plain


async def test_10_schemas(sdk: Any) -> None:
    schemas = await sdk.assistants.get_schemas("agent")
    keys = {
        "graph_id",
        "input_schema",
        "output_schema",
        "state_schema",
        "config_schema",
        "context_schema",
    }
    assert keys <= set(schemas)
    assert "messages" in schemas["input_schema"]["properties"]


async def test_11_subgraphs(sdk: Any) -> None:
    assert await sdk.assistants.get_subgraphs("agent") == {}
    nested = await sdk.assistants.get_subgraphs("nested", recurse=True)
    assert "child" in nested and "state_schema" in nested["child"]
    assert "child" in await sdk.assistants.get_subgraphs("nested", namespace="child")


async def test_12_delete(sdk: Any) -> None:
    created = await sdk.assistants.create(graph_id="agent")
    assert await sdk.assistants.delete(created["assistant_id"]) is None
    with pytest.raises(NotFoundError):
        await sdk.assistants.get(created["assistant_id"])


async def test_delete_with_threads(sdk: Any) -> None:
    created = await sdk.assistants.create(graph_id="agent")
    thread = await sdk.threads.create(metadata={"assistant_id": created["assistant_id"]})
    await sdk.assistants.delete(created["assistant_id"], delete_threads=True)
    with pytest.raises(NotFoundError):
        await sdk.threads.get(thread["thread_id"])
