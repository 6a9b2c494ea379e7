"""The bridge process: connect (and keep reconnecting), then fetch, write and ack for ever."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from redis.asyncio import Redis

from agentlist.bridge.bridge import Bridge
from agentlist.bridge.consumer import Pull, subscribe
from agentlist.bridge.retry import TRANSIENT, until_ok
from agentlist.bridge.settings import BridgeSettings
from agentlist.bridge.webhooks import webhook_loop
from agentlist.bridge.writer import StreamWriter, load_script
from agentlist.shared import server_config
from agentlist.shared.db import create_pool, migrate
from agentlist.shared.lifecycle import run_service
from agentlist.shared.logs import configure_logging
from agentlist.shared.loops import Backoff, sleep_unless
from agentlist.shared.nats import connect

logger = logging.getLogger(__name__)

CLIENT_NAME = "agentlist-bridge"
HOLD_POLL_SECONDS = 0.02
CONSUMER_CHECK_SECONDS = 10.0


def main(settings: BridgeSettings) -> None:
    configure_logging("bridge", settings.log_level, settings.debug)
    run_service(lambda stop: serve(settings, stop))


async def serve(settings: BridgeSettings, stop: asyncio.Event) -> None:
    """Bridge until ``stop`` is set; servers that are down are waited for, never fatal."""
    backoff = Backoff(most=settings.bridge_max_backoff_seconds)
    async with contextlib.AsyncExitStack() as stack:
        nc = await until_ok(
            stop, backoff, "connect to NATS", lambda: connect(settings.nats_url, CLIENT_NAME)
        )
        if nc is None:
            return
        stack.push_async_callback(_close_nats, nc)
        redis = Redis.from_url(settings.redis_url)
        stack.push_async_callback(redis.aclose)
        pool = await until_ok(
            stop, backoff, "connect to Postgres", lambda: _open_pool(settings.database_url)
        )
        if pool is None:
            return
        stack.push_async_callback(pool.close)
        writer = StreamWriter(redis, load_script(), settings.bridge_gap_patience_seconds)
        bridge = Bridge(nc, pool, writer, settings)
        policy = server_config.load(settings.graphs_config).webhooks
        logger.info("bridging run events to Redis and outcomes to Postgres")
        async with asyncio.TaskGroup() as group:
            group.create_task(webhook_loop(pool, policy, settings, stop))
            await _consume(nc, bridge, settings, stop, backoff)
    logger.info("stopped")


async def _consume(
    nc: Client, bridge: Bridge, settings: BridgeSettings, stop: asyncio.Event, backoff: Backoff
) -> None:
    loop = asyncio.get_running_loop()
    pull: Pull | None = None
    idle_since = loop.time()
    while not stop.is_set():
        if pull is None:
            pull = await until_ok(
                stop, backoff, "bind the consumer", lambda: subscribe(nc, settings)
            )
            if pull is None:
                return
        # Held messages are retried with each fetch: fetch briefly while there are some.
        expires = HOLD_POLL_SECONDS if bridge.holding else settings.bridge_fetch_timeout_seconds
        try:
            msgs = await pull.fetch(settings.bridge_batch_size, expires)
            if msgs:
                idle_since = loop.time()
            elif loop.time() - idle_since > CONSUMER_CHECK_SECONDS:
                # A pull request to a consumer that is gone gets no answer at all.
                idle_since = loop.time()
                await pull.verify()
        except TRANSIENT as exc:
            logger.warning(
                "cannot pull (%s: %s); binding the consumer again", type(exc).__name__, exc
            )
            leftover = await pull.close()
            pull = None
            await _process(bridge, leftover, stop, backoff)
            await sleep_unless(stop, backoff.next())
            continue
        if msgs or bridge.holding:
            await _process(bridge, msgs, stop, backoff)
    if pull is not None:
        await _process(bridge, await pull.close(), stop, backoff)
    with contextlib.suppress(*TRANSIENT):
        await bridge.release()


async def _process(bridge: Bridge, msgs: list[Msg], stop: asyncio.Event, backoff: Backoff) -> None:
    try:
        await bridge.process(msgs)
    except TRANSIENT as exc:
        delay = backoff.next()
        logger.warning(
            "a server failed mid-batch (%s: %s); retrying in %.1fs",
            type(exc).__name__,
            exc,
            delay,
        )
        await sleep_unless(stop, delay)
    else:
        backoff.reset()


async def _open_pool(dsn: str) -> asyncpg.Pool:
    pool = await create_pool(dsn, min_size=1, max_size=8)
    try:
        await migrate(pool)
    except BaseException:
        await pool.close()
        raise
    return pool


async def _close_nats(nc: Client) -> None:
    """Flush the last acks before closing."""
    with contextlib.suppress(Exception):
        await nc.flush(timeout=2)
    await nc.close()
