"""Servers for tests: the session's settings (``tests/conftest.py`` starts the session's
servers and stack with them), servers and databases of a test module's own, and the pool
every test on a database uses."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from agentlist.db.pool import create_pool, migrate
from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.identities import Identities
from agentlist.launcher.servers import NatsServer

GRAPHS_CONFIG = Path(__file__).parent / "graphs" / "langgraph.json"

# Short timings so that failover happens within a test's patience.
FAST_TIMINGS = {
    "AGENTLIST_HEARTBEAT_INTERVAL": "0.5",
    "AGENTLIST_LEASE_SECONDS": "3",
    "AGENTLIST_STREAM_RETENTION_SECONDS": "120",
    # Threads past their TTL go within a test's patience (a TTL may be a fraction of a minute).
    "AGENTLIST_SCHEDULER_TTL_SWEEP_INTERVAL": "0.5",
}


GATEWAY_SECRET = "gateway-secret-for-tests"
GATEWAY_ENV = {"AGENTLIST_API_GATEWAY_SECRET": GATEWAY_SECRET}
"""A stack in gateway mode: callers name their tenant, proving they come through the gateway."""


def tenant_headers(tenant: str) -> dict[str, str]:
    """What the gateway sends for a caller of ``tenant`` (on a stack with :data:`GATEWAY_ENV`)."""
    return {"X-Gateway-Secret": GATEWAY_SECRET, "X-Tenant-Id": tenant}


def services_on(servers: Stack, data_dir: Path, log_dir: Path, **overrides: object) -> Stack:
    """A stack of services that uses ``servers``' servers instead of starting its own."""
    options = StackOptions(
        graphs_config=GRAPHS_CONFIG,
        api_port=0,
        data_dir=data_dir,
        log_dir=log_dir,
        env=FAST_TIMINGS,
        nats_url=servers.nats_url,
        database_url=servers.database_url,
        redis_url=servers.redis_url,
        identities=servers.identities,
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return Stack(options)


def own_nats(folder: Path) -> NatsServer:
    """A NATS server of a test module's own, with the mesh's users; ``url`` is the admin's,
    ``identities.url_as(url, role)`` a role's."""
    return NatsServer(folder, Identities.load_or_create(folder))


@contextlib.contextmanager
def own_servers() -> Iterator[Stack]:
    """NATS, Postgres and Redis started for the caller alone, stopped on exit."""
    stack = Stack(StackOptions())
    try:
        stack.start_servers()
        yield stack
    finally:
        stack.stop()


@contextlib.asynccontextmanager
async def own_servers_in_thread() -> AsyncIterator[Stack]:
    """:func:`own_servers` for a test whose event loop must go on meanwhile (starting and
    stopping servers takes seconds, and a fake registry of the test answers heartbeats)."""
    stack = Stack(StackOptions())
    try:
        await asyncio.to_thread(stack.start_servers)
        yield stack
    finally:
        await asyncio.to_thread(stack.stop)


@contextlib.asynccontextmanager
async def own_database(database_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a new, empty database named ``<prefix>_<random>`` on the Postgres server
    of ``database_url``, dropped on exit (whoever is still connected to it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _execute_once(database_url, f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(database_url)._replace(path=f"/{name}").geturl()
    finally:
        await _execute_once(database_url, f'DROP DATABASE "{name}" WITH (FORCE)')


async def _execute_once(database_url: str, statement: str) -> None:
    """On a connection of its own: a test may restart the server or cut its connections
    while the database is in use."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def migrated_pool(database_url: str, max_size: int = 5) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database with AgentList's schema, closed on exit."""
    pool = await create_pool(database_url, max_size=max_size)
    try:
        await migrate(pool)
        yield pool
    finally:
        await pool.close()
