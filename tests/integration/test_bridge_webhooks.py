"""The bridge checks a webhook's URL again right before it sends: a URL allowed when its run
was created may be refused by then (the operator changed the policy, or its host now resolves
to a loopback or private address). Real Postgres, a real receiver, the bridge's own delivery
pass; the outbox rows are written as a finished run's outcome writes them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest_asyncio
from serverkit import migrated_pool, own_database

from agentlist.bridge.settings import BridgeSettings
from agentlist.bridge.webhooks import deliver_due
from agentlist.core.langgraph_json import WebhookPolicy
from agentlist.launcher import Stack

SETTINGS = BridgeSettings(webhook_max_attempts=5)


@pytest_asyncio.fixture(scope="module")
async def pool(servers: Stack) -> AsyncIterator[asyncpg.Pool]:
    # A database of its own: the session stack's bridges deliver every outbox row they see.
    async with (
        own_database(servers.database_url, "webhooks") as dsn,
        migrated_pool(dsn) as pool,
    ):
        yield pool


@dataclass
class Receiver:
    """An HTTP server that answers 200 and keeps the head of every request it gets."""

    port: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    async with server:
        yield receiver


async def queue(pool: asyncpg.Pool, url: str) -> uuid.UUID:
    run_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO webhook_deliveries (run_id, tenant_id, url, payload) VALUES ($1, 't', $2, $3)",
        run_id,
        url,
        {"run_id": str(run_id), "status": "success"},
    )
    return run_id


async def delivery(pool: asyncpg.Pool, run_id: uuid.UUID) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM webhook_deliveries WHERE run_id = $1", run_id)
    assert row is not None
    return dict(row)


async def test_a_webhook_allowed_at_creation_is_refused_at_delivery(
    pool: asyncpg.Pool, receiver: Receiver
) -> None:
    url = f"http://localhost:{receiver.port}/hook"  # localhost resolves to 127.0.0.1: loopback
    named = WebhookPolicy(allowed_domains=("localhost",))  # the policy when the run was created
    changed = WebhookPolicy()  # the operator's policy since: no named hosts, loopback refused
    async with httpx.AsyncClient(timeout=5) as client:
        allowed = await queue(pool, url)
        assert await deliver_due(pool, client, named, SETTINGS) == 1
        # Under the policy it was created with, the URL is reached: the receiver is real.
        assert len(receiver.requests) == 1 and receiver.requests[0].startswith(b"POST /hook ")
        assert (await delivery(pool, allowed))["delivered_at"] is not None

        refused = await queue(pool, url)
        assert await deliver_due(pool, client, changed, SETTINGS) == 1
        assert len(receiver.requests) == 1, "the refused delivery never reached the receiver"
        row = await delivery(pool, refused)
        assert row["delivered_at"] is None and row["attempts"] == 1
        assert row["last_error"] == (
            "Webhook host 'localhost' resolves to a loopback, private or link-local address"
        )
        assert row["next_attempt_at"] == datetime.max.replace(tzinfo=row["next_attempt_at"].tzinfo)
        # Never tried again, whatever the policy says later.
        assert await deliver_due(pool, client, named, SETTINGS) == 0
    assert len(receiver.requests) == 1
