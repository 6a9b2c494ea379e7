"""The registry service: FastStream request handlers and the liveness sweeper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from faststream.nats import NatsBroker

from agentlist.registry.handlers import RegistryHandlers, subscribe
from agentlist.registry.liveness import Thresholds
from agentlist.registry.settings import RegistrySettings
from agentlist.registry.store import RegistryStore
from agentlist.registry.sweeper import sweep_once
from agentlist.shared.db import create_pool, migrate
from agentlist.shared.lifecycle import run_service
from agentlist.shared.logs import configure_logging
from agentlist.shared.loops import Backoff, sleep_unless, until_done

logger = logging.getLogger(__name__)


def main(settings: RegistrySettings) -> None:
    configure_logging("registry", settings.log_level, settings.debug)
    run_service(lambda stop: serve(settings, stop))


def build_broker(settings: RegistrySettings, store: RegistryStore) -> NatsBroker:
    broker = NatsBroker(
        settings.nats_url,
        name="agentlist-registry",
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=2,
        log_level=logging.DEBUG,
    )
    handlers = RegistryHandlers(
        store,
        heartbeat_interval=settings.heartbeat_interval,
        lease_seconds=settings.lease_seconds,
    )
    subscribe(broker, handlers)
    return broker


async def liveness_loop(
    store: RegistryStore, broker: NatsBroker, settings: RegistrySettings, stop: asyncio.Event
) -> None:
    thresholds = Thresholds(
        suspect_after=settings.suspect_after, dead_after=settings.dead_after_seconds
    )
    backoff = Backoff(most=settings.max_backoff)
    while not stop.is_set():
        try:
            await sweep_once(store, broker.connection, thresholds, settings.ping_timeout)
        except Exception:
            delay = backoff.next()
            logger.exception("liveness sweep failed; retrying in %.1fs", delay)
            await sleep_unless(stop, delay)
            continue
        backoff.reset()
        await sleep_unless(stop, settings.liveness_sweep_interval)


async def serve(settings: RegistrySettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set. Waits for Postgres and NATS to be reachable first."""
    pool = await until_done(
        "postgres",
        lambda: create_pool(settings.database_url, max_size=settings.pool_size),
        stop,
        settings.max_backoff,
    )
    if pool is None:
        return
    store = RegistryStore(pool)
    broker = build_broker(settings, store)
    try:
        await until_done("migrations", lambda: migrate(pool), stop, settings.max_backoff)
        if await until_done("nats", _started(broker), stop, settings.max_backoff) is None:
            return
        logger.info("registry ready")
        await liveness_loop(store, broker, settings, stop)
    finally:
        await broker.stop()
        await pool.close()
        logger.info("registry stopped")


def _started(broker: NatsBroker) -> Callable[[], Awaitable[bool]]:
    async def start() -> bool:
        await broker.start()
        return True

    return start
