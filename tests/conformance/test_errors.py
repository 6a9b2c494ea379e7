"""Bad input gets a clear 4xx with a ``{"detail": ...}`` body and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agentlist.launcher import Stack


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/threads/not-a-uuid", None, 422),
        ("GET", "/threads/{thread}/runs/not-a-uuid", None, 422),
        ("POST", "/threads/{thread}/runs", {"input": {}}, 422),
        ("POST", "/threads/{thread}/runs", {"assistant_id": "agent", "stream_mode": "tools"}, 422),
        (
            "POST",
            "/threads/{thread}/runs",
            {"assistant_id": "agent", "multitask_strategy": "x"},
            422,
        ),
        ("POST", "/threads/{thread}/runs", {"assistant_id": "no such graph"}, 422),
        ("POST", "/threads/{thread}/runs", {"assistant_id": str(uuid.uuid4())}, 404),
        (
            "POST",
            "/threads/{thread}/runs",
            {"assistant_id": "agent", "webhook": "http://169.254.169.254/latest"},
            422,
        ),
        (
            "POST",
            "/threads/{thread}/runs",
            {"assistant_id": "agent", "config": {"configurable": {"a": 1}}, "context": {"b": 1}},
            400,
        ),
        (
            "POST",
            "/threads/{thread}/runs",
            {
                "assistant_id": "agent",
                "input": {"messages": [{"role": "user", "content": "\u0000"}]},
            },
            422,
        ),
        ("POST", "/threads/{thread}/runs/{run}/cancel?action=explode", None, 422),
        ("POST", "/threads", {"thread_id": "nope"}, 422),
        ("POST", "/threads/search", {"limit": -1}, 422),
        ("POST", "/threads/search", {"extract": {"x": "values..["}}, 422),
        ("POST", "/assistants", {"graph_id": "agent", "assistant_id": "not-a-uuid"}, 422),
        ("GET", "/threads/{thread}/runs/{run}/stream", None, 422),
        ("POST", "/runs/crons", {"assistant_id": "agent", "schedule": "every day"}, 422),
        (
            "POST",
            "/runs/crons",
            {"assistant_id": "agent", "schedule": "* * * * *", "timezone": "Mars/Olympus"},
            422,
        ),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    stack: Stack, sdk: Any, method: str, path: str, body: Any, status: int
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "agent", input={"messages": []})
    await sdk.runs.join(thread_id, run["run_id"])
    url = path.format(thread=thread_id, run=run["run_id"])
    headers = {"Last-Event-ID": "not-an-entry-id"} if url.endswith("/stream") else {}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        response = await http.request(method, url, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str)
    assert len(await sdk.runs.list(thread_id)) == 1, "a refused request created nothing"


async def test_malformed_json_and_deep_nesting(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        broken = await http.post(
            "/threads", content=b"{not json", headers={"content-type": "application/json"}
        )
        deep = await http.post(
            "/threads",
            content=b'{"metadata":' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
            headers={"content-type": "application/json"},
        )
        huge = await http.post(
            "/threads",
            content=b'{"metadata":{"x":"' + b"a" * (11 * 1024 * 1024) + b'"}}',
            headers={"content-type": "application/json"},
        )
    assert broken.status_code == 422
    assert deep.status_code in (400, 413, 422)
    assert huge.status_code == 413
