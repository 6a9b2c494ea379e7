"""One run travels the whole mesh, driven by the official ``langgraph-sdk``.

API -> Postgres -> scheduler -> NATS dispatch -> worker (LangGraph, Postgres checkpointer) ->
JetStream -> bridge -> Redis Streams -> API -> SSE.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agentlist.launcher import Stack

SYSTEM_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
HELLO: Any = {"messages": [{"role": "user", "content": "hello mesh"}]}


async def test_system_assistants_exist_for_every_registered_graph(sdk: Any) -> None:
    client = sdk
    found = await client.assistants.search(metadata={"created_by": "system"}, limit=100)
    by_graph = {assistant["graph_id"]: assistant for assistant in found}
    assert {"agent", "slow", "fails", "interrupts"} <= set(by_graph)
    agent = by_graph["agent"]
    assert agent["assistant_id"] == str(uuid.uuid5(SYSTEM_NAMESPACE, "agent"))
    for key in ("config", "context", "metadata", "version", "name", "created_at", "updated_at"):
        assert key in agent
    assert (await client.assistants.get(agent["assistant_id"]))["graph_id"] == "agent"


async def test_stream_wait_and_state_through_the_mesh(sdk: Any) -> None:
    client = sdk
    thread = await client.threads.create()
    assert thread["status"] == "idle"
    thread_id = thread["thread_id"]

    parts = [
        part
        async for part in client.runs.stream(
            thread_id, "agent", input=HELLO, stream_mode=["values", "updates"]
        )
    ]
    assert parts[0].event == "metadata"
    run_id = parts[0].data["run_id"]
    assert parts[0].data["attempt"] == 1
    assert {part.event for part in parts[1:]} == {"values", "updates"}
    updated_nodes = [next(iter(part.data)) for part in parts if part.event == "updates"]
    assert updated_nodes == ["prepare", "respond"]
    final = [part.data for part in parts if part.event == "values"][-1]
    assert final["messages"][-1]["content"] == "echo: hello mesh"
    assert final["messages"][-1]["type"] == "ai"

    run = await client.runs.get(thread_id, run_id)
    assert run["status"] == "success" and run["thread_id"] == thread_id

    second: Any = {"messages": [{"role": "user", "content": "again"}]}
    values = await client.runs.wait(thread_id, "agent", input=second)
    assert [m["content"] for m in values["messages"]] == [
        "hello mesh",
        "echo: hello mesh",
        "again",
        "echo: again",
    ]
    assert values["turns"] == 2

    state = await client.threads.get_state(thread_id)
    assert state["values"] == values
    assert state["next"] == [] and state["checkpoint"]["checkpoint_id"]
    after = await client.threads.get(thread_id)
    assert after["status"] == "idle"
    assert after["metadata"]["graph_id"] == "agent"
    assert after["values"]["turns"] == 2


async def test_stream_wire_format(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        async with http.stream(
            "POST",
            f"/threads/{thread_id}/runs/stream",
            json={"assistant_id": "agent", "input": HELLO, "stream_resumable": True},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            location = response.headers["location"]
            content_location = response.headers["content-location"]
            body = (await response.aread()).decode()
    run_id = content_location.rsplit("/", 1)[1]
    assert content_location == f"/threads/{thread_id}/runs/{run_id}"
    assert location == f"{content_location}/stream"
    frames = [frame for frame in body.split("\r\n\r\n") if frame.strip()]
    first = frames[0].split("\r\n")
    assert first[0] == "event: metadata"
    assert first[1].startswith("data: {") and run_id in first[1]
    ids = [line[4:] for frame in frames for line in frame.split("\r\n") if line.startswith("id: ")]
    assert len(ids) == len(frames), "resumable streams carry an id on every frame"
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-")))


async def test_unknown_graph_and_thread_are_clear_errors(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        thread_id = (await http.post("/threads", json={})).json()["thread_id"]
        missing = await http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "nope"})
        # Neither a UUID nor a registered graph: a malformed reference, as in langgraph-api.
        assert missing.status_code == 422 and "registered graphs" in missing.json()["detail"]
        unknown = await http.post(
            f"/threads/{thread_id}/runs/wait", json={"assistant_id": str(uuid.uuid4())}
        )
        assert unknown.status_code == 404 and "detail" in unknown.json()
        no_thread = await http.post(
            f"/threads/{uuid.uuid4()}/runs/wait", json={"assistant_id": "agent"}
        )
        assert no_thread.status_code == 404
        assert no_thread.json() == {"detail": "Thread or assistant not found."}
        bad = await http.post(f"/threads/{thread_id}/runs/wait", json={"input": {}})
        assert bad.status_code == 422 and "assistant_id" in bad.json()["detail"]
