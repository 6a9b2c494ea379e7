"""Conformance checklist 13-25: threads, their state and history."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from waitkit import eventually

from agentlist.launcher import Stack

HELLO: Any = {"messages": [{"role": "user", "content": "hi"}]}


async def test_13_create(sdk: Any) -> None:
    thread = await sdk.threads.create()
    uuid.UUID(thread["thread_id"])
    assert thread["status"] == "idle" and thread["metadata"] == {}
    assert thread["created_at"] and thread["updated_at"]


async def test_14_create_twice_conflicts_unless_do_nothing(sdk: Any) -> None:
    thread_id = str(uuid.uuid4())
    await sdk.threads.create(thread_id=thread_id, metadata={"n": 1})
    with pytest.raises(ConflictError):
        await sdk.threads.create(thread_id=thread_id)
    again = await sdk.threads.create(thread_id=thread_id, if_exists="do_nothing")
    assert again["metadata"] == {"n": 1}


async def test_15_missing_and_malformed_ids(sdk: Any) -> None:
    with pytest.raises(NotFoundError):
        await sdk.threads.get(str(uuid.uuid4()))
    with pytest.raises(UnprocessableEntityError):
        await sdk.threads.get("not-a-uuid")


async def test_16_update_merges_metadata(sdk: Any) -> None:
    thread = await sdk.threads.create(metadata={"a": 1})
    updated = await sdk.threads.update(thread["thread_id"], metadata={"k": "v"})
    assert updated["metadata"] == {"a": 1, "k": "v"}
    assert (
        await sdk.threads.update(thread["thread_id"], metadata={"b": 2}, return_minimal=True)
        is None
    )


async def test_17_search_filters_and_orders(sdk: Any) -> None:
    tag = str(uuid.uuid4())
    first = await sdk.threads.create(metadata={"k": tag})
    second = await sdk.threads.create(metadata={"k": tag})
    await sdk.threads.create(metadata={"k": "other"})
    found = await sdk.threads.search(metadata={"k": tag}, status="idle", limit=5)
    assert [t["thread_id"] for t in found] == [second["thread_id"], first["thread_id"]]
    by_id = await sdk.threads.search(ids=[first["thread_id"]])
    assert [t["thread_id"] for t in by_id] == [first["thread_id"]]


async def test_17b_search_select_and_extract(sdk: Any) -> None:
    thread = await sdk.threads.create(metadata={"x": "select-me"})
    await sdk.runs.wait(thread["thread_id"], "agent", input=HELLO)
    found = await sdk.threads.search(
        ids=[thread["thread_id"]],
        select=["thread_id", "status"],
        extract={"last": "values.messages[-1].content"},
    )
    assert found == [
        {"thread_id": thread["thread_id"], "status": "idle", "extracted": {"last": "echo: hi"}}
    ]


async def test_18_count(sdk: Any) -> None:
    tag = str(uuid.uuid4())
    for _ in range(3):
        await sdk.threads.create(metadata={"k": tag})
    assert await sdk.threads.count(metadata={"k": tag}) == 3


async def test_19_fresh_state_is_empty(sdk: Any) -> None:
    state = await sdk.threads.get_state((await sdk.threads.create())["thread_id"])
    assert state["values"] == {} and state["next"] == [] and state["checkpoint"] is None


async def test_20_state_after_a_run(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    state = await sdk.threads.get_state(thread_id)
    assert state["checkpoint"]["checkpoint_id"] and isinstance(state["metadata"]["step"], int)
    assert state["next"] == [] and state["tasks"] == []
    thread = await sdk.threads.get(thread_id)
    assert thread["metadata"]["graph_id"] == "agent" and thread["metadata"]["assistant_id"]


async def test_21_history_pages_backwards(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    newest = await sdk.threads.get_history(thread_id, limit=2)
    assert len(newest) == 2 and newest[0]["metadata"]["step"] > newest[1]["metadata"]["step"]
    older = await sdk.threads.get_history(thread_id, limit=2, before=newest[-1]["checkpoint"])
    assert older and older[0]["metadata"]["step"] < newest[-1]["metadata"]["step"]


async def test_22_state_at_a_checkpoint(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    older = (await sdk.threads.get_history(thread_id, limit=3))[-1]
    by_id = await sdk.threads.get_state(
        thread_id, checkpoint_id=older["checkpoint"]["checkpoint_id"]
    )
    by_checkpoint = await sdk.threads.get_state(
        thread_id, checkpoint={"checkpoint_id": older["checkpoint"]["checkpoint_id"]}
    )
    assert by_id["checkpoint"] == older["checkpoint"] == by_checkpoint["checkpoint"]
    assert by_id["values"] == older["values"]


async def test_23_update_state_as_node(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    result = await sdk.threads.update_state(
        thread_id, {"messages": [{"role": "ai", "content": "edited"}]}, as_node="respond"
    )
    assert result["checkpoint"]["checkpoint_id"]
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["messages"][-1]["content"] == "edited"
    assert (await sdk.threads.get(thread_id))["values"]["messages"][-1]["content"] == "edited"


async def test_23b_update_state_refused_while_busy(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.create(thread_id, "slow", input={"delay": 0.5, "total": 2})
    with pytest.raises(ConflictError):
        await sdk.threads.update_state(thread_id, {"delay": 0})


async def test_24_copy(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    copy = await sdk.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id
    original, copied = (
        await sdk.threads.get_state(thread_id),
        await sdk.threads.get_state(copy["thread_id"]),
    )
    assert copied["values"] == original["values"]
    await sdk.runs.wait(copy["thread_id"], "agent", input=HELLO)
    assert len((await sdk.threads.get_state(thread_id))["values"]["messages"]) == 2


async def test_25_prune_and_delete(sdk: Any) -> None:
    pruned = await sdk.threads.create()
    assert await sdk.threads.prune([pruned["thread_id"]]) == {"pruned_count": 1}
    with pytest.raises(NotFoundError):
        await sdk.threads.get(pruned["thread_id"])
    deleted = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(deleted, "agent", input=HELLO)
    await sdk.threads.delete(deleted)
    with pytest.raises(NotFoundError):
        await sdk.threads.get(deleted)


async def test_25b_prune_keep_latest_keeps_the_state(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "agent", input=HELLO)
    before = await sdk.threads.get_state(thread_id)
    assert await sdk.threads.prune([thread_id], strategy="keep_latest") == {"pruned_count": 1}
    assert len(await sdk.threads.get_history(thread_id, limit=10)) == 1
    assert (await sdk.threads.get_state(thread_id))["values"] == before["values"]


async def test_thread_create_with_supersteps(sdk: Any) -> None:
    thread = await sdk.threads.create(
        graph_id="agent",
        supersteps=[
            {
                "updates": [
                    {
                        "values": {"messages": [{"role": "user", "content": "seed"}]},
                        "as_node": "respond",
                    }
                ]
            }
        ],
    )
    state = await sdk.threads.get_state(thread["thread_id"])
    assert state["values"]["messages"][0]["content"] == "seed"


TTL_OF = """
SELECT ttl_minutes, ttl_strategy, EXTRACT(EPOCH FROM expires_at - now())::float8 AS left
  FROM threads WHERE thread_id = $1
"""


async def ttl_of(pool: asyncpg.Pool, thread_id: str) -> tuple[float, str, float] | None:
    """The thread's TTL as stored: minutes, strategy, seconds left (None: no such thread)."""
    row = await pool.fetchrow(TTL_OF, uuid.UUID(thread_id))
    return None if row is None else (row["ttl_minutes"], row["ttl_strategy"], row["left"])


async def test_thread_ttl_is_recorded(stack: Stack, sdk: Any, pg_pool: asyncpg.Pool) -> None:
    thread = await sdk.threads.create(ttl=60)
    recorded = await ttl_of(pg_pool, thread["thread_id"])
    assert recorded is not None and recorded[:2] == (60, "delete")
    assert 59 * 60 < recorded[2] <= 60 * 60
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        patched = await http.patch(
            f"/threads/{thread['thread_id']}", json={"ttl": {"ttl": 5, "strategy": "keep_latest"}}
        )
    assert patched.status_code == 200
    recorded = await ttl_of(pg_pool, thread["thread_id"])
    assert recorded is not None and recorded[:2] == (5, "keep_latest")
    assert 4 * 60 < recorded[2] <= 5 * 60, "a new TTL restarts the clock"


async def test_a_thread_past_its_ttl_is_deleted_or_pruned(sdk: Any, pg_pool: asyncpg.Pool) -> None:
    """The scheduler sweeps TTLs every ``AGENTLIST_SCHEDULER_TTL_SWEEP_INTERVAL`` (half a
    second on the test stacks); a TTL is in minutes, 0.02 is 1.2 s."""
    doomed = await sdk.threads.create(ttl={"ttl": 0.02, "strategy": "delete"})
    kept = await sdk.threads.create(ttl={"ttl": 0.02, "strategy": "keep_latest"})
    await sdk.runs.wait(kept["thread_id"], "agent", input=HELLO)
    await eventually(
        lambda: ttl_of(pg_pool, doomed["thread_id"]),
        lambda recorded: recorded is None,
        within=30,
        what="the thread deleted past its TTL",
    )
    with pytest.raises(NotFoundError):
        await sdk.threads.get(doomed["thread_id"])
    # keep_latest: pruned to its latest checkpoint and given its TTL again, once it expired.
    await eventually(
        lambda: pg_pool.fetchval(
            "SELECT count(*) FROM checkpoints WHERE thread_id = $1", kept["thread_id"]
        ),
        lambda count: count == 1,
        within=30,
        what="the keep_latest thread pruned to one checkpoint",
    )
    recorded = await ttl_of(pg_pool, kept["thread_id"])
    assert recorded is not None and recorded[:2] == (0.02, "keep_latest")
    state = await sdk.threads.get_state(kept["thread_id"])
    assert state["values"]["messages"][-1]["content"] == "echo: hi"
