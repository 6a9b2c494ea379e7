"""Checklist 54: a run's webhook receives one POST with the finished run, retried while the
receiver fails; a webhook the server would refuse to call is refused when a run or a cron is
created. (The test graphs' langgraph.json allows 127.0.0.1 by name, and no other host.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from langgraph_sdk.errors import UnprocessableEntityError
from waitkit import eventually

HELLO: Any = {"messages": [{"role": "user", "content": "hi"}]}


@dataclass
class Receiver:
    """A tiny HTTP server that records POSTed JSON and fails the first ``failures`` times."""

    failures: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        body = await reader.readexactly(length)
        self.attempts += 1
        status = b"500 Internal Server Error" if self.attempts <= self.failures else b"200 OK"
        if status.startswith(b"200"):
            self.received.append(json.loads(body))
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


async def test_54_one_post_per_finished_run(sdk: Any, receiver: Receiver) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    created: list[Any] = []
    for _ in range(2):
        await sdk.runs.wait(
            thread_id, "agent", input=HELLO, webhook=receiver.url, on_run_created=created.append
        )
        # The next run's POST, which follows this one's, is the sign that none was repeated.
        await eventually(
            lambda: len(receiver.received) == len(created), within=30, what="the webhook"
        )
    assert [posted["run_id"] for posted in receiver.received] == [c["run_id"] for c in created]
    assert receiver.attempts == 2
    posted = receiver.received[0]
    assert posted["run_id"] == created[0]["run_id"] and posted["thread_id"] == thread_id
    assert posted["status"] == "success"
    assert posted["values"]["messages"][-1]["content"] == "echo: hi"
    for key in ("run_started_at", "run_ended_at", "webhook_sent_at", "created_at", "kwargs"):
        assert posted[key], key


async def test_webhook_retried_until_the_receiver_answers(sdk: Any, receiver: Receiver) -> None:
    receiver.failures = 2
    await sdk.runs.wait(
        None, "fails", input={"reason": "boom"}, webhook=receiver.url, raise_error=False
    )
    await eventually(lambda: receiver.received, within=30, what="the webhook")
    assert receiver.attempts == 3 and len(receiver.received) == 1
    assert receiver.received[0]["status"] == "error"
    assert receiver.received[0]["error"] == {
        "error": "ValueError",
        "message": "boom",
        "retryable": False,
    }


REFUSED = "http://example.com/hook"
REFUSAL = "Webhook host 'example.com' is not in the allowed domains"


async def refusal(call: Awaitable[Any]) -> str:
    """The detail of the 422 that ``call`` (through the SDK) gets."""
    with pytest.raises(UnprocessableEntityError) as refused:
        await call
    detail: str = refused.value.response.json()["detail"]
    return detail


async def test_a_run_with_a_refused_webhook_is_not_created(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    create = sdk.runs.create(thread_id, "agent", input=HELLO, webhook=REFUSED)
    assert await refusal(create) == REFUSAL
    assert await sdk.runs.list(thread_id) == []


async def test_a_cron_with_a_refused_webhook_is_not_created(sdk: Any, receiver: Receiver) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    schedule = "0 0 1 1 *"  # once a year: the cron must not fire during the test
    assert await refusal(sdk.crons.create("agent", schedule=schedule, webhook=REFUSED)) == REFUSAL
    for_thread = sdk.crons.create_for_thread(thread_id, "agent", schedule=schedule, webhook=REFUSED)
    assert await refusal(for_thread) == REFUSAL
    not_http = sdk.crons.create("agent", schedule=schedule, webhook="ftp://127.0.0.1/hook")
    assert await refusal(not_http) == "Webhook must be an absolute http(s) URL"
    assert await sdk.crons.search(thread_id=thread_id) == []

    cron = await sdk.crons.create_for_thread(
        thread_id, "agent", schedule=schedule, webhook=receiver.url
    )
    try:
        update = sdk.crons.update(cron["cron_id"], webhook=REFUSED)
        assert await refusal(update) == REFUSAL
        [kept] = await sdk.crons.search(thread_id=thread_id)
        assert kept["payload"]["webhook"] == receiver.url
        moved = f"{receiver.url}/moved"
        changed = await sdk.crons.update(cron["cron_id"], webhook=moved)
        assert changed["payload"]["webhook"] == moved
    finally:
        await sdk.crons.delete(cron["cron_id"])
