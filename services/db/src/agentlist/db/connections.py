"""What a control-plane service holds while it serves: a migrated pool and a NATS client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import asyncpg
from nats.aio.client import Client

from agentlist.core import health, nats
from agentlist.core.retry import Transient
from agentlist.core.settings import ControlPlaneSettings
from agentlist.db import pool as db_pool

TRANSIENT: Final[Transient] = (*db_pool.TRANSIENT, *nats.TRANSIENT)
"""What a control-plane service waits out: either server being unreachable for a while."""


@dataclass(frozen=True)
class Connections:
    pool: asyncpg.Pool
    nc: Client


@asynccontextmanager
async def opened(
    settings: ControlPlaneSettings, client_name: str, stop: asyncio.Event
) -> AsyncIterator[Connections | None]:
    """Both, once their servers answer (waiting is normal while they start); None if ``stop``
    came first. On the way out NATS is drained before the pool closes, so that a reply or an
    ack in flight can still read from Postgres."""
    held: list[Connections] = []

    async def ready() -> bool:
        # A stopping service takes no more work: it is not ready, though still alive.
        return bool(held) and not stop.is_set() and await _answers(held[0])

    async with (
        health.serving(settings.health_host, settings.health_port, ready),
        db_pool.opened(
            settings.database_url,
            stop,
            max_size=settings.pool_size,
            most_backoff=settings.max_backoff,
        ) as pool,
        nats.connected(settings.nats_url, client_name, stop, settings.max_backoff) as nc,
    ):
        if pool is None or nc is None:
            yield None
            return
        held.append(Connections(pool, nc))
        yield held[0]


async def _answers(connections: Connections) -> bool:
    """Ready: NATS is connected and Postgres answers a query."""
    if not connections.nc.is_connected:
        return False
    return bool(await connections.pool.fetchval("SELECT true"))
