"""Tenants behind a gateway (``AGENTLIST_API_GATEWAY_SECRET``), through the official SDK: each
tenant's store is its own, for its clients and for its graphs in both workers, and the system
assistant every tenant shares is not one tenant's to change.

The stack serves ``tests/graphs/tenant_langgraph.json``: ``tenant_view``
(tests/graphs/tenant_graphs.py) and its LangGraph.js twin ``tenant_view_js``
(tests/graphs/js/src/storeView.ts) report what their run sees of the store (the JS twin all
but its namespaces, which LangGraph.js gives a graph no way to list).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authkit import status_of
from langgraph_sdk import get_client
from serverkit import FAST_TIMINGS, services_on

from agentlist.contracts.ids import system_assistant_id
from agentlist.launcher import Stack
from agentlist.launcher.jsworker import js_worker_problem

TENANT_CONFIG = Path(__file__).resolve().parents[1] / "graphs" / "tenant_langgraph.json"
SECRET = secrets.token_urlsafe(24)
VIEWS = ["tenant_view", "tenant_view_js"]


@pytest.fixture(scope="module")
def gateway_stack(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, log_dir: Path
) -> Iterator[Stack]:
    assert js_worker_problem() is None, js_worker_problem()
    data = tmp_path_factory.mktemp("tenant-stack")
    env = {**FAST_TIMINGS, "AGENTLIST_API_GATEWAY_SECRET": SECRET}
    with services_on(
        servers, data, log_dir / "tenant-stack", graphs_config=TENANT_CONFIG, env=env
    ) as stack:
        yield stack


def tenant(stack: Stack, name: str) -> Any:
    """The SDK as the gateway calls for tenant ``name``."""
    headers = {"X-Gateway-Secret": SECRET, "X-Tenant-Id": name}
    return get_client(url=stack.api_url, headers=headers)


def two_tenants(stack: Stack) -> tuple[Any, Any]:
    """Clients of two new tenants (names a prefix of each other, with '.' and ':')."""
    a = f"a.{uuid.uuid4().hex[:8]}"
    return tenant(stack, a), tenant(stack, f"{a}:b")


async def test_a_tenant_cannot_reach_another_tenants_items(gateway_stack: Stack) -> None:
    a, b = two_tenants(gateway_stack)
    await a.store.put_item(["memories", "ada"], "note", {"text": "a's"})
    await a.store.put_item(["a-only"], "k", {"text": "a's secret"})

    assert await b.store.get_item(["memories", "ada"], "note") is None
    assert await b.store.get_item(["a-only"], "k") is None
    assert (await b.store.search_items([], limit=100))["items"] == []
    assert (await b.store.search_items(["memories"], filter={"text": "a's"}))["items"] == []
    assert (await b.store.list_namespaces())["namespaces"] == []
    await b.store.delete_item(["memories", "ada"], "note")
    mine = await a.store.get_item(["memories", "ada"], "note")
    assert mine["namespace"] == ["memories", "ada"] and mine["value"] == {"text": "a's"}

    await b.store.put_item(["memories", "ada"], "note", {"text": "b's"})
    assert (await b.store.get_item(["memories", "ada"], "note"))["value"] == {"text": "b's"}
    assert (await a.store.get_item(["memories", "ada"], "note"))["value"] == {"text": "a's"}
    found = (await a.store.search_items([], limit=100))["items"]
    assert sorted((item["namespace"], item["key"]) for item in found) == [
        (["a-only"], "k"),
        (["memories", "ada"], "note"),
    ]
    listed = await a.store.list_namespaces()
    assert listed["namespaces"] == [["a-only"], ["memories", "ada"]]
    assert (await a.store.list_namespaces(max_depth=1))["namespaces"] == [["a-only"], ["memories"]]
    assert (await b.store.list_namespaces())["namespaces"] == [["memories", "ada"]]


async def test_no_client_names_the_servers_tenant_label(gateway_stack: Stack) -> None:
    a, b = two_tenants(gateway_stack)
    await b.store.put_item(["x"], "k", {"text": "b's"})
    forged = ["__tenant__b", "x"]
    assert await status_of(a.store.put_item(forged, "k", {"text": "a's"})) == 422
    assert await status_of(a.store.get_item(forged, "k")) == 422
    assert await status_of(a.store.delete_item(forged, "k")) == 422
    assert await status_of(a.store.search_items(forged)) == 422
    assert await status_of(a.store.list_namespaces(prefix=forged)) == 422
    assert await status_of(a.store.list_namespaces(suffix=forged)) == 422
    assert (await b.store.get_item(["x"], "k"))["value"] == {"text": "b's"}


@pytest.mark.parametrize("graph_id", VIEWS)
async def test_a_tenants_graph_sees_that_tenants_items_only(
    gateway_stack: Stack, graph_id: str
) -> None:
    a, b = two_tenants(gateway_stack)
    await a.store.put_item(["memories", "ada"], "note", {"text": "a's client"})
    await b.store.put_item(["memories", "ada"], "note", {"text": "b's client"})
    await b.store.put_item(["b-only"], "k", {"text": "b's secret"})

    thread = await a.threads.create()
    seen = await a.runs.wait(
        thread["thread_id"], graph_id, input={"user": "ada", "note": "a's graph"}
    )
    assert seen["recalled"] == {"text": "a's client"}
    assert seen["items"] == ["memories/ada/note"]
    if graph_id == "tenant_view":  # LangGraph.js gives a graph no way to list namespaces
        assert seen["namespaces"] == [["memories", "ada"]]

    assert (await a.store.get_item(["memories", "ada"], "note"))["value"] == {"text": "a's graph"}
    assert (await b.store.get_item(["memories", "ada"], "note"))["value"] == {"text": "b's client"}
    seen_by_b = await b.runs.wait(None, graph_id, input={"user": "ada"})
    assert seen_by_b["recalled"] == {"text": "b's client"}
    assert seen_by_b["items"] == ["b-only/k", "memories/ada/note"]


async def test_no_tenant_changes_the_system_assistant(gateway_stack: Stack) -> None:
    a, b = two_tenants(gateway_stack)
    system = str(system_assistant_id("tenant_view"))
    before = await b.assistants.get(system)

    refusals = [
        a.assistants.update(system, config={"configurable": {"mine": True}}),
        a.assistants.set_latest(system, 1),
        a.assistants.delete(system),
    ]
    for call in refusals:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await call
        assert refused.value.response.status_code == 403
        detail = refused.value.response.json()["detail"]
        assert "shared by every tenant" in detail and "create an assistant of your own" in detail
    assert await b.assistants.get(system) == before

    own = await a.assistants.create(
        "tenant_view", config={"configurable": {"mine": True}}, name="a's view"
    )
    assert own["assistant_id"] != system
    updated = await a.assistants.update(own["assistant_id"], name="a's view, renamed")
    assert updated["version"] == 2
    assert await status_of(b.assistants.get(own["assistant_id"])) == 404
    assert await status_of(b.assistants.update(own["assistant_id"], name="b's now")) == 404
    seen = await a.runs.wait(None, own["assistant_id"], input={"user": "ada", "note": "hi"})
    assert seen["recalled"] is None and seen["items"] == ["memories/ada/note"]
    await a.assistants.delete(own["assistant_id"])
    assert await b.assistants.get(system) == before
