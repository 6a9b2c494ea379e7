"""Conformance checklist 26-41 and 49, 53, 55, 56: creating, streaming, joining runs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from langgraph_sdk.errors import NotFoundError
from waitkit import eventually

from agentlist.launcher import Stack

HELLO: Any = {"messages": [{"role": "user", "content": "hi"}]}


async def test_26_create_returns_a_pending_run(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    created: list[Any] = []
    run = await sdk.runs.create(thread_id, "agent", input=HELLO, on_run_created=created.append)
    assert run["status"] == "pending" and run["thread_id"] == thread_id
    assert run["multitask_strategy"] == "enqueue"
    assert created == [{"run_id": run["run_id"], "thread_id": thread_id}]


async def test_27_join_returns_values_then_success(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "agent", input=HELLO)
    values = await sdk.runs.join(thread_id, run["run_id"])
    assert values["messages"][-1]["content"] == "echo: hi"
    assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "success"
    assert (await sdk.threads.get(thread_id))["status"] == "idle"


async def test_28_list_filter_and_select(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "agent", input=HELLO)
    await sdk.runs.join(thread_id, first["run_id"])
    second = await sdk.runs.create(thread_id, "agent", input=HELLO)
    await sdk.runs.join(thread_id, second["run_id"])
    listed = await sdk.runs.list(thread_id)
    assert [r["run_id"] for r in listed] == [second["run_id"], first["run_id"]]
    assert len(await sdk.runs.list(thread_id, status="success")) == 2
    assert await sdk.runs.list(thread_id, status="error") == []
    selected = await sdk.runs.list(thread_id, select=["run_id", "status"])
    assert all(set(r) == {"run_id", "status"} for r in selected)


async def test_29_stream_starts_with_metadata(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    parts = [p async for p in sdk.runs.stream(thread_id, "agent", input=HELLO)]
    assert parts[0].event == "metadata" and parts[0].data["run_id"]
    assert [p.event for p in parts[1:]] and {p.event for p in parts[1:]} == {"values"}


async def test_30_only_requested_modes(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    modes = ["values", "updates", "messages-tuple", "custom"]
    parts = [p async for p in sdk.runs.stream(thread_id, "agent", input=HELLO, stream_mode=modes)]
    assert {p.event for p in parts} <= {"metadata", "values", "updates", "messages", "custom"}
    messages = [p.data for p in parts if p.event == "messages"]
    assert messages and all(isinstance(m, list) and len(m) == 2 for m in messages)
    tokens = "".join(chunk["content"] for chunk, _meta in messages)
    assert tokens == "echo: hi"
    assert messages[0][1]["langgraph_node"] == "respond"


async def test_30b_custom_events(sdk: Any) -> None:
    parts = [p async for p in sdk.runs.stream(None, "custom", input={}, stream_mode="custom")]
    assert [p.data for p in parts if p.event == "custom"] == [
        {"progress": 0},
        {"progress": 1},
        {"progress": 2},
    ]


async def test_31_messages_mode_sends_metadata_before_partials(sdk: Any) -> None:
    parts = [p async for p in sdk.runs.stream(None, "agent", input=HELLO, stream_mode="messages")]
    events = [p.event for p in parts if p.event.startswith("messages")]
    assert events[0] == "messages/metadata" and "messages/partial" in events
    partials = [p.data for p in parts if p.event == "messages/partial"]
    assert partials[-1][0]["content"] == "echo: hi"


async def test_32_subgraph_events_are_namespaced(sdk: Any) -> None:
    parts = [
        p
        async for p in sdk.runs.stream(
            None, "nested", input={"count": 0}, stream_mode="values", stream_subgraphs=True
        )
    ]
    names = {p.event for p in parts}
    assert "values" in names
    assert any(name.startswith("values|child:") for name in names)


async def test_33_version_v2_parts(sdk: Any) -> None:
    parts = [p async for p in sdk.runs.stream(None, "agent", input=HELLO, version="v2")]
    values = [p for p in parts if p["type"] == "values"]
    assert values and all({"type", "ns", "data"} <= set(p) for p in values)


async def test_34_raw_stream_headers_and_heartbeats(stack: Stack, sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http,
        http.stream(
            "POST",
            f"/threads/{thread_id}/runs/stream",
            json={"assistant_id": "slow", "input": {"delay": 6, "total": 1}},
        ) as response,
    ):
        body = (await response.aread()).decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    run_id = response.headers["content-location"].rsplit("/", 1)[1]
    assert response.headers["location"] == f"/threads/{thread_id}/runs/{run_id}/stream"
    assert ": heartbeat" in body, "an idle stream sends a heartbeat at least every 5 s"


async def test_35_ids_only_when_resumable(stack: Stack, sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    plain = [p async for p in sdk.runs.stream(thread_id, "agent", input=HELLO)]
    assert all(p.id is None for p in plain)
    resumable = [
        p async for p in sdk.runs.stream(thread_id, "agent", input=HELLO, stream_resumable=True)
    ]
    assert all(p.id for p in resumable)


async def test_36_resume_after_an_event_yields_the_rest(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    seen: list[Any] = []
    async for part in sdk.runs.stream(
        thread_id,
        "slow",
        input={"delay": 0.2, "total": 4},
        stream_resumable=True,
        stream_mode="updates",
    ):
        seen.append(part)
        if len(seen) == 2:
            break
    run_id = seen[0].data["run_id"]
    rest = [p async for p in sdk.runs.join_stream(thread_id, run_id, last_event_id=seen[1].id)]
    updates = [p.data["step"]["steps"] for p in [*seen, *rest] if p.event == "updates"]
    assert updates == [[1], [2], [3], [4]]
    ids = [p.id for p in [*seen, *rest]]
    assert len(ids) == len(set(ids))


async def test_37_replay_a_finished_run(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    original = [
        p async for p in sdk.runs.stream(thread_id, "agent", input=HELLO, stream_resumable=True)
    ]
    run_id = original[0].data["run_id"]
    replay = [p async for p in sdk.runs.join_stream(thread_id, run_id, last_event_id="-1")]
    assert [(p.event, p.data, p.id) for p in replay] == [(p.event, p.data, p.id) for p in original]


async def test_38_join_filter_by_mode(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    original = [
        p
        async for p in sdk.runs.stream(
            thread_id,
            "agent",
            input=HELLO,
            stream_resumable=True,
            stream_mode=["values", "updates"],
        )
    ]
    run_id = original[0].data["run_id"]
    replay = [
        p
        async for p in sdk.runs.join_stream(
            thread_id, run_id, stream_mode="values", last_event_id="-1"
        )
    ]
    assert {p.event for p in replay} == {"metadata", "values"}


async def test_39_stateless_runs_clean_up_unless_kept(stack: Stack, sdk: Any) -> None:
    created: list[Any] = []
    parts = [
        p async for p in sdk.runs.stream(None, "agent", input=HELLO, on_run_created=created.append)
    ]
    assert parts[-1].data["messages"][-1]["content"] == "echo: hi"
    # A stateless stream names only its run (Content-Location /runs/<id>): once the temporary
    # thread is deleted, so is the run, and joining it finds nothing.
    async with httpx.AsyncClient(base_url=stack.api_url) as http:

        async def join_status() -> int:
            return (await http.get(f"/runs/{created[0]['run_id']}/stream")).status_code

        await eventually(
            join_status, lambda status: status == 404, within=5, every=0.1, what="the run gone"
        )
    kept: list[Any] = []
    await sdk.runs.wait(
        None, "agent", input=HELLO, on_completion="keep", on_run_created=kept.append
    )
    assert (await sdk.threads.get(kept[0]["thread_id"]))["values"]["messages"]


async def test_40_wait_returns_values_or_raises_the_graphs_error(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    values = await sdk.runs.wait(thread_id, "agent", input=HELLO)
    assert values["messages"][-1]["content"] == "echo: hi"
    with pytest.raises(Exception, match="ValueError"):
        await sdk.runs.wait(thread_id, "fails", input={"reason": "boom"})
    raw = await sdk.runs.wait(thread_id, "fails", input={"reason": "boom"}, raise_error=False)
    assert raw == {"__error__": {"error": "ValueError", "message": "boom"}}
    assert (await sdk.threads.get(thread_id))["status"] == "error"


async def test_41_stateless_wait_reports_its_thread(sdk: Any) -> None:
    created: list[Any] = []
    values = await sdk.runs.wait(None, "agent", input=HELLO, on_run_created=created.append)
    assert values["messages"][-1]["content"] == "echo: hi" and created[0]["thread_id"]


async def test_49_missing_thread_unless_created(sdk: Any) -> None:
    with pytest.raises(NotFoundError):
        await sdk.runs.create(str(uuid.uuid4()), "agent", input=HELLO)
    thread_id = str(uuid.uuid4())
    values = await sdk.runs.wait(thread_id, "agent", input=HELLO, if_not_exists="create")
    assert values["messages"] and (await sdk.threads.get(thread_id))["thread_id"] == thread_id


async def test_53_after_seconds_delays_the_start(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    started = time.time()
    run = await sdk.runs.create(thread_id, "agent", input=HELLO, after_seconds=3)
    assert (await sdk.runs.get(thread_id, run["run_id"]))["status"] == "pending"
    await sdk.runs.join(thread_id, run["run_id"])
    assert time.time() - started >= 3, "an instant graph ended only once its delay was over"
    done = await sdk.runs.get(thread_id, run["run_id"])
    assert done["status"] == "success"


async def test_55_batch(sdk: Any, wait_status: Any) -> None:
    keep = {"assistant_id": "agent", "input": HELLO, "on_completion": "keep"}
    runs = await sdk.runs.create_batch([keep, keep])
    assert len(runs) == 2 and all(r["status"] == "pending" for r in runs)
    for run in runs:
        await wait_status(run["thread_id"], run["run_id"], "success")


async def test_56_delete(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "agent", input=HELLO)
    await sdk.runs.join(thread_id, run["run_id"])
    await sdk.runs.delete(thread_id, run["run_id"])
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, run["run_id"])


async def test_thread_join_stream_sees_each_run(stack: Stack, sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    events: list[tuple[str, Any]] = []
    async with (
        httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http,
        http.stream(
            "GET",
            f"/threads/{thread_id}/stream",
            params={"stream_modes": "lifecycle"},
            headers={"Last-Event-ID": "-1"},
        ) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("data: ") and '"run_done"' in line:
                events.append(("run_done", line))
            if len(events) == 2:
                break
    assert len(events) == 2
