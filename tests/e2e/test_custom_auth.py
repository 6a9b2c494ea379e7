"""Custom auth from ``langgraph.json`` (``tests/graphs/owner_auth.py``), through the official SDK:
who may call, what each caller reaches, and what a graph learns of its caller."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from authkit import bearer, bearer_client, guarded_operations, status_of

from agentlist.launcher import Stack


async def test_every_guarded_route_refuses_a_caller_without_a_token(auth_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=auth_stack.api_url) as http:
        for path in ("/ok", "/info", "/docs", "/openapi.json", "/ui/"):
            assert (await http.get(path)).status_code == 200, path
        operations = guarded_operations((await http.get("/openapi.json")).json())
        assert len(operations) > 40
        for method, path in operations:
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            response = await http.request(method, path, json=body)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"detail": "Missing bearer token"}


async def test_a_failing_authenticator_denies_without_saying_why(auth_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=auth_stack.api_url) as http:
        unknown = await http.post("/threads/search", json={}, headers=bearer("token-nobody"))
        broken = await http.post("/threads/search", json={}, headers=bearer("token-broken"))
    assert (unknown.status_code, unknown.json()) == (401, {"detail": "Unknown token"})
    assert (broken.status_code, broken.json()) == (403, {"detail": "Forbidden"})


async def test_another_owners_thread_does_not_exist_for_a_caller(auth_stack: Stack) -> None:
    alice, bob = bearer_client(auth_stack, "token-alice"), bearer_client(auth_stack, "token-bob")
    thread = await alice.threads.create(metadata={"topic": "plans"})
    assert thread["metadata"] == {"topic": "plans", "owner": "alice"}
    tid = thread["thread_id"]
    await alice.runs.wait(tid, "agent", input={"messages": [{"role": "user", "content": "hi"}]})

    assert await status_of(bob.threads.get(tid)) == 404
    assert await status_of(bob.threads.update(tid, metadata={"owner": "bob"})) == 404
    assert await status_of(bob.threads.copy(tid)) == 404
    assert await status_of(bob.threads.get_state(tid)) == 404
    assert await status_of(bob.threads.get_history(tid)) == 404
    assert await status_of(bob.threads.update_state(tid, {"messages": []})) == 404
    assert await status_of(bob.runs.list(tid)) == 404
    assert await status_of(bob.runs.create(tid, "agent", input={"messages": []})) == 404
    runs = await alice.runs.list(tid)
    assert await status_of(bob.runs.get(tid, runs[0]["run_id"])) == 404
    assert await status_of(bob.runs.join(tid, runs[0]["run_id"])) == 404
    async with httpx.AsyncClient(base_url=auth_stack.api_url, headers=bearer("token-bob")) as http:
        for stream in (f"/threads/{tid}/runs/{runs[0]['run_id']}/stream", f"/threads/{tid}/stream"):
            refused = await http.get(stream, headers={"Last-Event-ID": "-1"})
            assert refused.status_code == 404, (stream, refused.text)

    mine = await bob.threads.create()
    bobs_view = {t["thread_id"] for t in await bob.threads.search(limit=100)}
    alices_view = {t["thread_id"] for t in await alice.threads.search(limit=100)}
    assert mine["thread_id"] in bobs_view and tid not in bobs_view
    assert tid in alices_view and mine["thread_id"] not in alices_view
    assert await bob.threads.count() == len(bobs_view)
    assert (await alice.threads.get(tid))["metadata"]["owner"] == "alice"


async def test_a_handler_returning_false_is_403(auth_stack: Stack) -> None:
    alice, bob = bearer_client(auth_stack, "token-alice"), bearer_client(auth_stack, "token-bob")
    bobs = await bob.threads.create()
    assert await status_of(bob.threads.delete(bobs["thread_id"])) == 403
    assert (await bob.threads.get(bobs["thread_id"]))["thread_id"] == bobs["thread_id"]
    # Alice may delete, but only what her filter lets her see: bob's thread is a 404 to her.
    assert await status_of(alice.threads.delete(bobs["thread_id"])) == 404
    assert (await bob.threads.get(bobs["thread_id"]))["thread_id"] == bobs["thread_id"]
    alices = await alice.threads.create()
    await alice.threads.delete(alices["thread_id"])
    assert await status_of(alice.threads.get(alices["thread_id"])) == 404


async def test_the_graph_sees_the_authenticated_caller_and_not_a_claimed_one(
    auth_stack: Stack,
) -> None:
    alice = bearer_client(auth_stack, "token-alice")
    thread = await alice.threads.create()
    forged = {"langgraph_auth_user_id": "mallory", "langgraph_auth_permissions": ["admin"]}
    state = await alice.runs.wait(
        thread["thread_id"], "whoami", input={}, config={"configurable": forged}
    )
    assert state["user_id"] == "alice"
    assert state["permissions"] == ["threads:delete"]
    assert state["user"]["identity"] == "alice" and state["user"]["team"] == "red"


async def test_assistants_and_crons_follow_their_handlers(auth_stack: Stack) -> None:
    alice, bob = bearer_client(auth_stack, "token-alice"), bearer_client(auth_stack, "token-bob")
    assistant = await alice.assistants.create("agent", name="alice's", metadata={"k": "v"})
    assert assistant["metadata"] == {"k": "v", "owner": "alice"}
    aid = assistant["assistant_id"]
    assert await status_of(bob.assistants.get(aid)) == 404
    assert await status_of(bob.assistants.update(aid, name="bob's now")) == 404
    assert await status_of(bob.assistants.get_graph(aid)) == 404
    assert await status_of(bob.assistants.delete(aid)) == 404
    assert aid not in {a["assistant_id"] for a in await bob.assistants.search(limit=100)}
    assert aid in {a["assistant_id"] for a in await alice.assistants.search(limit=100)}

    thread = await alice.threads.create()
    cron = await alice.crons.create_for_thread(thread["thread_id"], "agent", schedule="0 0 1 1 *")
    cid = cron["cron_id"]
    assert await status_of(bob.crons.delete(cid)) == 404
    assert cid not in {c["cron_id"] for c in await bob.crons.search(limit=100)}
    assert cid in {c["cron_id"] for c in await alice.crons.search(limit=100)}
    await alice.crons.delete(cid)


async def test_a_store_handler_keeps_each_callers_items_under_its_own_prefix(
    auth_stack: Stack,
) -> None:
    alice, bob = bearer_client(auth_stack, "token-alice"), bearer_client(auth_stack, "token-bob")
    await alice.store.put_item(["notes"], "plan", {"text": "alice's"})
    assert await bob.store.get_item(["notes"], "plan") is None
    item = await alice.store.get_item(["notes"], "plan")
    assert item["namespace"] == ["alice", "notes"] and item["value"] == {"text": "alice's"}
    found = await bob.store.search_items(["notes"])
    assert found["items"] == []


async def test_every_way_to_start_a_run_asks_the_create_run_handler(auth_stack: Stack) -> None:
    """langgraph-api's CVEs came from ways around ``threads.create_run``: if_not_exists,
    implicit threads, stateless runs, batches, crons, and assistants the caller cannot read."""
    viewer = bearer_client(auth_stack, "token-viewer")
    own = (await viewer.threads.create())["thread_id"]
    fresh = str(uuid.uuid4())
    assert await status_of(viewer.runs.create(own, "agent", input={})) == 403
    assert (
        await status_of(viewer.runs.create(fresh, "agent", input={}, if_not_exists="create")) == 403
    )
    assert await status_of(viewer.threads.get(fresh)) == 404  # and nothing was made
    assert await status_of(viewer.runs.wait(None, "agent", input={})) == 403
    assert await status_of(viewer.crons.create("agent", schedule="0 0 1 1 *")) == 403
    assert (
        await status_of(viewer.crons.create_for_thread(own, "agent", schedule="0 0 1 1 *")) == 403
    )
    async with httpx.AsyncClient(base_url=auth_stack.api_url) as http:
        batch = [{"assistant_id": "agent", "input": {}}]
        refused = await http.post("/runs/batch", json=batch, headers=bearer("token-viewer"))
    assert refused.status_code == 403, refused.text
    assert await viewer.runs.list(own) == []

    alice, bob = bearer_client(auth_stack, "token-alice"), bearer_client(auth_stack, "token-bob")
    alices_thread = (await alice.threads.create())["thread_id"]
    bobs_thread = (await bob.threads.create())["thread_id"]
    private = (await alice.assistants.create("agent", name="alice's own"))["assistant_id"]
    assert await status_of(bob.runs.create(bobs_thread, private, input={})) == 404
    assert await status_of(bob.crons.create(private, schedule="0 0 1 1 *")) == 404
    taken = bob.runs.create(alices_thread, "agent", input={}, if_not_exists="create")
    assert await status_of(taken) == 404
    assert await alice.runs.list(alices_thread) == []
    assert await bob.runs.list(bobs_thread) == []
