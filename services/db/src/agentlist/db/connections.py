"""What a control-plane service holds while it serves: a migrated pool and a NATS client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import asyncpg
from nats.aio.client import Client

from agentlist.core import nats
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
    async with (
        db_pool.opened(
            settings.database_url,
            stop,
            max_size=settings.pool_size,
            most_backoff=settings.max_backoff,
        ) as pool,
        nats.connected(settings.nats_url, client_name, stop, settings.max_backoff) as nc,
    ):
        yield None if pool is None or nc is None else Connections(pool, nc)
