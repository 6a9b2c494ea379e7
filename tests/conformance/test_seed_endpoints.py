"""The seed's endpoints beside the LangGraph ones: ``GET /assistants`` and ``GET /threads``
as searches in a query string, and the store's batch upsert, listing and batch delete."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx

from agentlist.launcher import Stack


async def test_get_assistants_lists_like_the_search(stack: Stack, sdk: Any) -> None:
    tag = uuid.uuid4().hex
    made = [
        await sdk.assistants.create("agent", name=f"seed-{i}", metadata={"tag": tag})
        for i in range(3)
    ]
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        page = await http.get(
            "/assistants",
            params={"metadata": json.dumps({"tag": tag}), "limit": 2, "sort_by": "name"},
        )
        rest = await http.get(
            "/assistants", params={"metadata": json.dumps({"tag": tag}), "offset": 2}
        )
        bad = await http.get("/assistants", params={"metadata": "[1]"})
        too_many = await http.get("/assistants", params={"limit": 5000})
    assert page.status_code == 200
    assert page.headers["x-pagination-total"] == "3" and page.headers["x-pagination-next"] == "2"
    searched = await sdk.assistants.search(metadata={"tag": tag}, limit=2, sort_by="name")
    assert [a["assistant_id"] for a in page.json()] == [a["assistant_id"] for a in searched]
    assert len(rest.json()) == 1
    assert {a["assistant_id"] for a in page.json() + rest.json()} == {
        a["assistant_id"] for a in made
    }
    assert bad.status_code == 422 and "metadata" in bad.json()["detail"]
    assert too_many.status_code == 422


async def test_get_threads_lists_like_the_search(stack: Stack, sdk: Any) -> None:
    tag = uuid.uuid4().hex
    mine = await sdk.threads.create(metadata={"tag": tag})
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        listed = await http.get(
            "/threads", params={"metadata": json.dumps({"tag": tag}), "status": "idle"}
        )
        wrong_status = await http.get("/threads", params={"status": "sleeping"})
    assert [t["thread_id"] for t in listed.json()] == [mine["thread_id"]]
    assert listed.headers["x-pagination-total"] == "1"
    assert wrong_status.status_code == 422


async def test_the_store_batch_upsert_listing_and_delete(stack: Stack, sdk: Any) -> None:
    folder = f"seed{uuid.uuid4().hex[:8]}"
    items = [{"namespace": [folder, "notes"], "key": f"k{i}", "value": {"n": i}} for i in range(3)]
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        put = await http.put("/store", json={"items": items})
        listed = await http.get("/store", params={"namespace": f"{folder}.notes", "limit": 10})
        deleted = await http.request(
            "DELETE", "/store", json={"items": [{"namespace": [folder, "notes"], "key": "k0"}]}
        )
        empty = await http.put("/store", json={"items": []})
        half_bad = await http.put(
            "/store",
            json={"items": [items[0], {"namespace": [], "key": "x", "value": {}}]},
        )
    assert put.status_code == 204 and deleted.status_code == 204
    assert sorted(item["key"] for item in listed.json()["items"]) == ["k0", "k1", "k2"]
    assert (await sdk.store.get_item([folder, "notes"], "k1"))["value"] == {"n": 1}
    assert await sdk.store.get_item([folder, "notes"], "k0") is None
    assert empty.status_code == 422
    assert half_bad.status_code == 422
    assert await sdk.store.get_item([folder, "notes"], "k0") is None, "nothing half-written"
