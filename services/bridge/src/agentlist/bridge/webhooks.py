"""Sending webhooks: each finished run that asked for one is POSTed to its URL once, retried
with growing pauses while the receiver fails, from the outbox its outcome wrote."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson

from agentlist.bridge import queries
from agentlist.bridge.retry import TRANSIENT
from agentlist.bridge.settings import BridgeSettings
from agentlist.core.langgraph_json import WebhookPolicy
from agentlist.core.retry import supervise
from agentlist.core.webhooks import WebhookRefusedError, validate

logger = logging.getLogger(__name__)

BATCH = 32


def retry_delay(attempts: int, max_attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones; None once out of tries."""
    if attempts >= max_attempts:
        return None
    return float(min(2 ** (attempts - 1), 60))


async def _post(
    client: httpx.AsyncClient, url: str, payload: dict[str, Any], policy: WebhookPolicy
) -> None:
    await validate(url, policy)  # again: the host may resolve elsewhere than at creation
    body = orjson.dumps({**payload, "webhook_sent_at": datetime.now(UTC)})
    headers = {"content-type": "application/json", **policy.headers}
    response = await client.post(url, content=body, headers=headers)
    response.raise_for_status()


async def _deliver(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    row: asyncpg.Record,
    policy: WebhookPolicy,
    settings: BridgeSettings,
) -> None:
    try:
        await _post(client, row["url"], row["payload"], policy)
    except WebhookRefusedError as exc:
        logger.warning("webhook of run %s refused: %s", row["run_id"], exc)
        await queries.webhook_failed(pool, row["run_id"], str(exc), None)
    except httpx.HTTPError as exc:
        delay = retry_delay(row["attempts"], settings.webhook_max_attempts)
        logger.info("webhook of run %s failed (%r); next try in %s s", row["run_id"], exc, delay)
        await queries.webhook_failed(pool, row["run_id"], repr(exc)[:500], delay)
    else:
        await queries.webhook_delivered(pool, row["run_id"])


async def deliver_due(
    pool: asyncpg.Pool, client: httpx.AsyncClient, policy: WebhookPolicy, settings: BridgeSettings
) -> int:
    """Send every due delivery once; returns how many were tried."""
    lease = settings.webhook_timeout_seconds * 2
    rows = await queries.claim_webhooks(pool, BATCH, lease, settings.webhook_max_attempts)
    await asyncio.gather(*(_deliver(pool, client, row, policy, settings) for row in rows))
    return len(rows)


async def webhook_loop(
    pool: asyncpg.Pool, policy: WebhookPolicy, settings: BridgeSettings, stop: asyncio.Event
) -> None:
    timeout = httpx.Timeout(settings.webhook_timeout_seconds)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:

        async def deliver() -> float:
            tried = await deliver_due(pool, client, policy, settings)
            return 0 if tried >= BATCH else settings.webhook_poll_seconds

        await supervise(
            "webhook pass",
            deliver,
            stop,
            transient=TRANSIENT,
            most=settings.max_backoff,
        )
