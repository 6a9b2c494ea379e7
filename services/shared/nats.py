"""NATS connections that reconnect on their own, and the JetStream stream of run events."""

from __future__ import annotations

import asyncio
import logging

import nats
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from agentlist.contracts import subjects
from agentlist.shared.loops import until_done

logger = logging.getLogger(__name__)


async def connect(url: str, name: str) -> Client:
    """Connect and keep reconnecting for ever: a restarted NATS server is a normal event."""

    async def on_error(exc: Exception) -> None:
        logger.warning("nats error: %s", exc)

    async def on_disconnect() -> None:
        logger.warning("nats disconnected")

    async def on_reconnect() -> None:
        logger.info("nats reconnected")

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        connect_timeout=2,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
    )


def events_stream_config(max_age_seconds: float) -> StreamConfig:
    """Run events are kept past their run so that Redis can be rebuilt from them."""
    return StreamConfig(
        name=subjects.EVENTS_STREAM,
        subjects=[subjects.RUN_EVENTS_ALL],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_seconds,
        duplicate_window=120.0,
    )


async def ensure_events_stream(js: JetStreamContext, max_age_seconds: float) -> None:
    config = events_stream_config(max_age_seconds)
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


def broker(url: str, name: str) -> NatsBroker:
    """A FastStream broker that, like :func:`connect`, reconnects for ever."""
    return NatsBroker(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        log_level=logging.DEBUG,
    )


async def start_when_reachable(
    broker: NatsBroker, stop: asyncio.Event, most_backoff: float
) -> bool:
    """Start the broker once NATS answers; False if ``stop`` came first."""

    async def start() -> bool:
        await broker.start()
        return True

    return await until_done("nats", start, stop, most_backoff) is not None
