"""The bridge process: connect (and keep reconnecting), then fetch, write and ack for ever."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.client import Client
from nats.aio.msg import Msg
from redis.asyncio import Redis

from agentlist.bridge.bridge import Bridge
from agentlist.bridge.consumer import Pull, subscribe
from agentlist.bridge.retry import TRANSIENT
from agentlist.bridge.settings import BridgeSettings
from agentlist.bridge.webhooks import webhook_loop
from agentlist.bridge.writer import StreamWriter, load_script
from agentlist.core import langgraph_json as server_config
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.core.retry import Backoff, retry, sleep_unless
from agentlist.db import connections

logger = logging.getLogger(__name__)

CLIENT_NAME = "agentlist-bridge"
HOLD_POLL_SECONDS = 0.02
CONSUMER_CHECK_SECONDS = 10.0


def main(settings: BridgeSettings) -> None:
    configure_logging("bridge", settings.log_level, settings.debug)
    run_service("bridge", lambda stop: serve(settings, stop))


async def serve(settings: BridgeSettings, stop: asyncio.Event) -> None:
    """Bridge until ``stop`` is set; servers that are down are waited for, never fatal."""
    backoff = Backoff(most=settings.max_backoff)
    redis = Redis.from_url(settings.redis_url)
    async with contextlib.aclosing(redis), connections.opened(settings, CLIENT_NAME, stop) as held:
        if held is None:
            return
        nc, pool = held.nc, held.pool
        writer = StreamWriter(redis, load_script(), settings.gap_patience_seconds)
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
            pull = await retry(
                "bind the consumer",
                lambda: subscribe(nc, settings),
                stop,
                transient=TRANSIENT,
                most=settings.max_backoff,
            )
            if pull is None:
                return
        # Held messages are retried with each fetch: fetch briefly while there are some.
        expires = HOLD_POLL_SECONDS if bridge.holding else settings.fetch_timeout_seconds
        try:
            msgs = await pull.fetch(settings.batch_size, expires)
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
