"""The registry service: request handlers on NATS and the liveness sweeper."""

from __future__ import annotations

import asyncio
import logging

from agentlist.core import nats as mesh_nats
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.core.retry import supervise
from agentlist.db import pool as db_pool
from agentlist.registry.handlers import RegistryHandlers, subscribe
from agentlist.registry.liveness import Thresholds
from agentlist.registry.settings import RegistrySettings
from agentlist.registry.store import RegistryStore
from agentlist.registry.sweeper import sweep_once

logger = logging.getLogger(__name__)

TRANSIENT = db_pool.TRANSIENT + mesh_nats.TRANSIENT


def main(settings: RegistrySettings) -> None:
    configure_logging("registry", settings.log_level, settings.debug)
    run_service("registry", lambda stop: serve(settings, stop))


async def serve(settings: RegistrySettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set. Waits for Postgres and NATS to be reachable first."""
    async with (
        db_pool.opened(
            settings.database_url,
            stop,
            max_size=settings.pool_size,
            most_backoff=settings.max_backoff,
        ) as pool,
        mesh_nats.connected(
            settings.nats_url, "agentlist-registry", stop, settings.max_backoff
        ) as nc,
    ):
        if pool is None or nc is None:
            return
        store = RegistryStore(pool)
        handlers = RegistryHandlers(
            store,
            heartbeat_interval=settings.heartbeat_interval,
            lease_seconds=settings.lease_seconds,
        )
        await subscribe(nc, handlers)
        thresholds = Thresholds(
            suspect_after=settings.suspect_after, dead_after=settings.dead_after_seconds
        )

        async def sweep() -> float:
            await sweep_once(store, nc, thresholds, settings.ping_timeout)
            return settings.liveness_sweep_interval

        logger.info("registry ready")
        await supervise(
            "liveness sweep", sweep, stop, transient=TRANSIENT, most=settings.max_backoff
        )
    logger.info("registry stopped")
