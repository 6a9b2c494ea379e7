"""The registry service: request handlers on NATS and the liveness sweeper."""

from __future__ import annotations

import asyncio
import logging

from agentlist.contracts import subjects
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.core.retry import supervise
from agentlist.db import connections
from agentlist.registry.handlers import RegistryHandlers, subscribe
from agentlist.registry.liveness import Thresholds
from agentlist.registry.settings import RegistrySettings
from agentlist.registry.store import RegistryStore
from agentlist.registry.sweeper import sweep_once
from agentlist.registry.teams import TeamGrants

logger = logging.getLogger(__name__)


def main(settings: RegistrySettings) -> None:
    configure_logging("registry", settings.log_level, settings.debug)
    run_service("registry", lambda stop: serve(settings, stop))


async def serve(settings: RegistrySettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set. Waits for Postgres and NATS to be reachable first."""
    async with connections.opened(settings, "agentlist-registry", stop) as held:
        if held is None:
            return
        nc = held.nc
        store = RegistryStore(held.pool)

        async def wake() -> None:
            await nc.publish(subjects.RUNS_RELEASED, b"")

        handlers = RegistryHandlers(
            store,
            TeamGrants(settings.teams_file),
            wake,
            heartbeat_interval=settings.heartbeat_interval,
            lease_seconds=settings.lease_seconds,
            pool_gone_after=settings.pool_gone_after_seconds,
        )
        await subscribe(nc, handlers)
        thresholds = Thresholds(
            suspect_after=settings.suspect_after,
            dead_after=settings.dead_after_seconds,
            forget_after=settings.forget_dead_after_seconds,
        )

        async def sweep() -> float:
            await sweep_once(store, nc, wake, thresholds, settings.ping_timeout)
            return settings.liveness_sweep_interval

        logger.info("registry ready")
        transient, most = connections.TRANSIENT, settings.max_backoff
        await supervise("liveness sweep", sweep, stop, transient=transient, most=most)
    logger.info("registry stopped")
