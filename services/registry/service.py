"""The registry service: FastStream request handlers and the liveness sweeper."""

from __future__ import annotations

import asyncio
import logging

from faststream.nats import NatsBroker

from agentlist.registry.handlers import RegistryHandlers, subscribe
from agentlist.registry.liveness import Thresholds
from agentlist.registry.settings import RegistrySettings
from agentlist.registry.store import RegistryStore
from agentlist.registry.sweeper import sweep_once
from agentlist.shared import nats as mesh_nats
from agentlist.shared.db import open_when_reachable
from agentlist.shared.lifecycle import run_service
from agentlist.shared.logs import configure_logging
from agentlist.shared.loops import Backoff, sleep_unless

logger = logging.getLogger(__name__)


def main(settings: RegistrySettings) -> None:
    configure_logging("registry", settings.log_level, settings.debug)
    run_service(lambda stop: serve(settings, stop))


def build_broker(settings: RegistrySettings, store: RegistryStore) -> NatsBroker:
    broker = mesh_nats.broker(settings.nats_url, "agentlist-registry")
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
    pool = await open_when_reachable(
        settings.database_url, stop, max_size=settings.pool_size, most_backoff=settings.max_backoff
    )
    if pool is None:
        return
    store = RegistryStore(pool)
    broker = build_broker(settings, store)
    try:
        if not await mesh_nats.start_when_reachable(broker, stop, settings.max_backoff):
            return
        logger.info("registry ready")
        await liveness_loop(store, broker, settings, stop)
    finally:
        await broker.stop()
        await pool.close()
        logger.info("registry stopped")
