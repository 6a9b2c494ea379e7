"""The durable pull consumer that every bridge instance shares, and this bridge's pulls."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from agentlist.bridge.settings import BridgeSettings
from agentlist.contracts import subjects
from agentlist.core.nats import ensure_events_stream

PULL_SUBJECT: Final = (
    f"{api.DEFAULT_PREFIX}.CONSUMER.MSG.NEXT.{subjects.EVENTS_STREAM}.{subjects.BRIDGE_CONSUMER}"
)


class ConsumerGoneError(ConnectionError):
    """The server deleted the consumer (or lost its store): it must be created again."""


def consumer_config(settings: BridgeSettings) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        name=subjects.BRIDGE_CONSUMER,
        durable_name=subjects.BRIDGE_CONSUMER,
        filter_subject=subjects.RUN_EVENTS_ALL,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_seconds,
        max_deliver=-1,  # the bridge decides when to give up on a message, not JetStream
        max_ack_pending=settings.max_ack_pending,
    )


class Pull:
    """Pull requests to the shared consumer, answered into this bridge's own inbox.

    nats-py's ``fetch`` waits for each message with a task of its own, which cost the bridge
    more than its Redis writes; here a callback buffers what arrives, and the next batch is
    asked for while the current one is bridged.
    """

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._inbox = nc.new_inbox()
        self._subscription: Subscription | None = None
        self._buffer: list[Msg] = []
        self._arrived = asyncio.Event()
        self._awaited = 0
        """Messages the open pull request may still deliver."""
        self._open_until = 0.0
        self._gone = ""

    async def open(self) -> None:
        self._subscription = await self._nc.subscribe(self._inbox, cb=self._on_message)

    async def fetch(self, batch: int, expires: float) -> list[Msg]:
        """Up to ``batch`` messages; ``[]`` if none came within ``expires`` seconds."""
        await self._ask(batch, expires)
        if not self._buffer:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), expires)
        if self._gone:
            raise ConsumerGoneError(self._gone)
        msgs, self._buffer = self._buffer[:batch], self._buffer[batch:]
        await self._ask(batch, expires)
        return msgs

    async def verify(self) -> None:
        """Raises (``NotFoundError``) if the consumer no longer exists."""
        js = self._nc.jetstream()
        await js.consumer_info(subjects.EVENTS_STREAM, subjects.BRIDGE_CONSUMER)

    async def close(self) -> list[Msg]:
        """Stop pulling; returns what was delivered but not fetched, once the last pull
        request has expired (what it still delivers would otherwise wait out ack_wait)."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._open_until - loop.time()))
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
        msgs, self._buffer = self._buffer, []
        return msgs

    async def _ask(self, batch: int, expires: float) -> None:
        """Send a pull request, unless one is open or a batch is already here."""
        now = asyncio.get_running_loop().time()
        if (self._awaited > 0 and now < self._open_until) or len(self._buffer) >= batch:
            return
        self._awaited = batch
        self._open_until = now + expires
        request = {"batch": batch, "expires": int(expires * 1e9)}
        await self._nc.publish(PULL_SUBJECT, orjson.dumps(request), reply=self._inbox)

    async def _on_message(self, msg: Msg) -> None:
        status = msg.headers.get(api.Header.STATUS) if msg.headers else None
        if status is None:
            self._buffer.append(msg)
            self._awaited -= 1
        elif status != api.StatusCode.CONTROL_MESSAGE:
            # No messages, request timeout, or a conflict: the request is over.
            self._awaited = 0
            description = msg.headers.get(api.Header.DESCRIPTION, "") if msg.headers else ""
            if status == api.StatusCode.CONFLICT and "deleted" in description.lower():
                self._gone = description
        self._arrived.set()


async def subscribe(nc: Client, settings: BridgeSettings) -> Pull:
    """Create or update the stream and the consumer, then start pulling from it."""
    js = nc.jetstream()
    await ensure_events_stream(js, settings.events_max_age_seconds, settings.events_replicas)
    await js.add_consumer(subjects.EVENTS_STREAM, consumer_config(settings))
    pull = Pull(nc)
    await pull.open()
    return pull
