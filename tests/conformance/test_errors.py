"""Bad input gets a clear 4xx with a ``{"detail": ...}`` body and changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
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
        ("POST", "/threads/{thread}/runs", {"assistant_id": "nosuchgraph"}, 422),
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


async def test_a_run_input_nested_300_deep_is_a_422(stack: Stack, sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    deep: dict[str, Any] = {}
    level = deep
    for _ in range(300):
        level["a"] = {}
        level = level["a"]
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        response = await http.post(
            f"/threads/{thread_id}/runs", json={"assistant_id": "agent", "input": deep}
        )
    assert response.status_code == 422, response.text
    assert isinstance(response.json()["detail"], str)
    assert await sdk.runs.list(thread_id) == []


async def test_an_oversize_chunked_body_is_a_413(stack: Stack) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"metadata": {"x": "'
        for _ in range(12):
            yield b"a" * 1024 * 1024
        yield b'"}}'

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as http:
        response = await http.post(
            "/threads", content=chunks(), headers={"content-type": "application/json"}
        )
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"assistant_id": "agent", "after_seconds": 1e300},
        {"assistant_id": "agent", "input": {"text": "\u0000"}},
    ],
)
async def test_a_value_the_database_refuses_is_a_422_without_its_words(
    stack: Stack, sdk: Any, body: dict[str, Any]
) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        response = await http.post(f"/threads/{thread_id}/runs", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    for database_words in ("$", "query argument", "asyncpg", "postgres", "invalid input"):
        assert database_words not in detail.lower(), detail
    assert await sdk.runs.list(thread_id) == []
