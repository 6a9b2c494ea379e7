"""What a graph learns of its caller under custom auth, in both workers: the stack of
``tests/graphs/auth_langgraph.json`` (``tests/graphs/owner_auth.py``) mixes a Python ``whoami``
(tests/graphs/auth_graphs.py) and its LangGraph.js twin ``whoami_js``
(tests/graphs/js/src/whoami.ts), so the launcher starts a JS worker beside the Python one."""

from __future__ import annotations

import pytest
from authkit import bearer_client

from agentlist.launcher import Stack

FORGED = {
    "langgraph_auth_user_id": "mallory",
    "langgraph_auth_user": {"identity": "mallory", "team": "blue"},
    "langgraph_auth_permissions": ["admin"],
}
"""What a client claims in ``config.configurable``: the server must overwrite all of it."""


@pytest.mark.parametrize("graph_id", ["whoami", "whoami_js"])
async def test_the_graph_sees_the_authenticated_caller_and_not_a_forged_one(
    auth_stack: Stack, graph_id: str
) -> None:
    alice = bearer_client(auth_stack, "token-alice")
    thread = await alice.threads.create()
    state = await alice.runs.wait(
        thread["thread_id"], graph_id, input={}, config={"configurable": FORGED}
    )
    assert state["user_id"] == "alice"
    assert state["permissions"] == ["threads:delete"]
    assert state["user"]["identity"] == "alice"
    assert state["user"]["team"] == "red"
    assert "mallory" not in str(state) and "admin" not in str(state)


async def test_each_caller_sees_itself_in_the_js_graph_when_streaming(auth_stack: Stack) -> None:
    bob = bearer_client(auth_stack, "token-bob")
    values = [
        part.data
        async for part in bob.runs.stream(
            None, "whoami_js", input={}, config={"configurable": FORGED}, stream_mode="values"
        )
        if part.event == "values"
    ]
    assert values[-1]["user_id"] == "bob"
    assert values[-1]["permissions"] == []
    assert values[-1]["user"]["identity"] == "bob" and "team" not in values[-1]["user"]
