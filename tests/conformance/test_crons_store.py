"""Conformance checklist 57-59: crons and the store (and that graphs share the store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import BadRequestError
from waitkit import eventually

from agentlist.launcher import Stack


async def test_57_cron_lifecycle(sdk: Any) -> None:
    cron = await sdk.crons.create(
        "agent", schedule="* * * * *", input={"messages": []}, metadata={"suite": "57"}
    )
    assert cron["cron_id"] and cron["next_run_date"] and cron["enabled"] is True
    assert cron["cron_id"] in [
        c["cron_id"] for c in await sdk.crons.search(metadata={"suite": "57"})
    ]
    assert await sdk.crons.count() >= 1
    updated = await sdk.crons.update(cron["cron_id"], enabled=False)
    assert updated["enabled"] is False
    with pytest.raises(BadRequestError):
        await sdk.http.patch(f"/runs/crons/{cron['cron_id']}", json={})
    await sdk.crons.delete(cron["cron_id"])
    assert cron["cron_id"] not in [
        c["cron_id"] for c in await sdk.crons.search(metadata={"suite": "57"})
    ]


def once_a_year_at(moment: datetime) -> str:
    """A schedule (croniter's sixth field is the second) whose only tick in a year is
    ``moment``, to the second (UTC)."""
    return f"{moment.minute} {moment.hour} {moment.day} {moment.month} * {moment.second}"


async def test_58_a_due_thread_cron_creates_one_run(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    # A real tick, a few seconds ahead: the scheduler fires it on its own.
    tick = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    cron = await sdk.crons.create_for_thread(
        thread_id,
        "agent",
        schedule=once_a_year_at(tick),
        input={"messages": [{"role": "user", "content": "tick"}]},
    )
    assert datetime.fromisoformat(cron["next_run_date"]) == tick

    # The tick's run and the cron's next date are written in one transaction: once the date
    # has moved on (a year), the runs of that tick are all there is.
    async def next_date() -> datetime:
        found: dict[str, Any] = await sdk.http.get(f"/runs/crons/{cron['cron_id']}")
        return datetime.fromisoformat(found["next_run_date"])

    moved = await eventually(
        next_date, lambda date: date > tick, within=30, every=0.1, what="the tick fired"
    )
    assert moved >= tick + timedelta(days=365), moved
    runs = await sdk.runs.list(thread_id)
    assert len(runs) == 1, "one tick, one run"
    assert runs[0]["metadata"]["cron_id"] == cron["cron_id"]
    await sdk.runs.join(thread_id, runs[0]["run_id"])
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["content"] == "echo: tick"
    await sdk.crons.delete(cron["cron_id"])


async def test_59_store_round_trip(sdk: Any) -> None:
    assert await sdk.store.put_item(["u1", "mem"], "k", {"a": 1}) is None
    item = await sdk.store.get_item(["u1", "mem"], "k")
    assert item["value"] == {"a": 1} and item["created_at"] and item["updated_at"]
    found = await sdk.store.search_items(["u1"], filter={"a": 1})
    assert [i["key"] for i in found["items"]] == ["k"]
    assert await sdk.store.list_namespaces(prefix=["u1"]) == {"namespaces": [["u1", "mem"]]}
    await sdk.store.delete_item(["u1", "mem"], "k")
    assert await sdk.store.get_item(["u1", "mem"], "k") is None


async def test_graphs_and_clients_share_the_store(sdk: Any) -> None:
    await sdk.store.put_item(["memories", "ada"], "note", {"text": "from the client"})
    values = await sdk.runs.wait(None, "memory", input={"user": "ada", "note": "from the graph"})
    assert values["recalled"] == {"text": "from the client"}
    item = await sdk.store.get_item(["memories", "ada"], "note")
    assert item["value"] == {"text": "from the graph"}


async def test_store_refuses_bad_namespaces(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        dotted = await http.put(
            "/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}}
        )
        empty = await http.put("/store/items", json={"namespace": [""], "key": "k", "value": {}})
        no_key = await http.get("/store/items", params={"namespace": "a"})
        langgraph_root = await http.put(
            "/store/items", json={"namespace": ["langgraph", "x"], "key": "k", "value": {}}
        )
        nul = await http.put("/store/items", json={"namespace": ["a\x00"], "key": "k", "value": {}})
        reserved = await http.post(
            "/store/items/search", json={"namespace_prefix": ["__tenant__x"]}
        )
    assert dotted.status_code == 422 and empty.status_code == 422
    assert no_key.status_code == 400
    for refused in (langgraph_root, nul, reserved):
        assert refused.status_code == 422, refused.text
        assert "detail" in refused.json()
