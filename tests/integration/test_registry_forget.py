"""The registry forgets dead workers after a while (issue 12: no debris in /workers and
/health after restarts). The registry runs in-process on a NATS server and a database of
this module's own; the worker is raw nats-py requests."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import nats
import nats.errors
from nats.aio.client import Client
from serverkit import migrated_pool, own_database, own_nats
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.workers import (
    GraphInfo,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    RegisterReply,
    WorkerRegister,
)
from agentlist.launcher import Stack
from agentlist.registry.service import serve
from agentlist.registry.settings import RegistrySettings

DEAD_AFTER = 0.6
FORGET_AFTER = 2.0


@contextlib.asynccontextmanager
async def registry(nats_url: str, dsn: str) -> AsyncIterator[None]:
    settings = RegistrySettings.model_validate(
        {
            "NATS_URL": nats_url,
            "DATABASE_URL": dsn,
            "heartbeat_interval": 0.1,
            "unhealthy_after_missed": 2,
            "dead_after_seconds": DEAD_AFTER,
            "forget_dead_after_seconds": FORGET_AFTER,
            "liveness_sweep_interval": 0.1,
            "ping_timeout": 0.1,
        }
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def register(nc: Client, worker: str) -> RegisterReply:
    msg = WorkerRegister(
        worker_id=worker,
        language="python",
        version="0.1.0",
        host="localhost",
        pid=1,
        capacity=1,
        graphs=[GraphInfo(graph_id=f"g_{uuid.uuid4().hex[:8]}")],
    )
    for _ in range(50):  # the registry may still be starting
        with contextlib.suppress(nats.errors.NoRespondersError, nats.errors.TimeoutError):
            reply = await nc.request(
                subjects.registry_register(DEFAULT_TEAM), msg.model_dump_json().encode(), 2
            )
            return RegisterReply.model_validate_json(reply.data)
        await asyncio.sleep(0.1)
    raise AssertionError("no registry answered")


async def test_a_dead_worker_is_forgotten_and_may_come_back(servers: Stack) -> None:
    # The launcher's kind of temp folder: NATS needs no more, and pytest's is private.
    folder = Path(tempfile.mkdtemp(prefix="agentlist-registry-forget-"))
    server = own_nats(folder)
    server.start()
    try:
        async with (
            own_database(servers.database_url, "registry_forget") as dsn,
            migrated_pool(dsn) as pool,
            registry(server.url, dsn),
        ):
            nc = await nats.connect(server.url)
            try:
                await check_forgetting(nc, pool)
                await check_a_stopping_worker_signs_off(nc, pool)
            finally:
                await nc.drain()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def check_forgetting(nc: Client, pool: asyncpg.Pool) -> None:
    worker = f"w-{uuid.uuid4().hex[:8]}"
    assert (await register(nc, worker)).accepted  # then silent, like a stopped worker

    async def state() -> str | None:
        found: str | None = await pool.fetchval(
            "SELECT state FROM workers WHERE worker_id = $1", worker
        )
        return found

    await eventually(state, lambda s: s == "dead", within=10, what="the silent worker dead")
    dead_at = asyncio.get_running_loop().time()
    await eventually(state, lambda s: s is None, within=10, what="the dead worker forgotten")
    forgotten_after = asyncio.get_running_loop().time() - dead_at
    # Forgotten FORGET_AFTER seconds after its last heartbeat, so some while after its death.
    assert forgotten_after >= FORGET_AFTER - DEAD_AFTER - 0.5, forgotten_after
    assert (await register(nc, worker)).accepted
    assert await state() == "healthy"


async def beat(nc: Client, message: Heartbeat) -> HeartbeatReply:
    reply = await nc.request(
        subjects.registry_heartbeat(DEFAULT_TEAM), message.model_dump_json().encode(), 2
    )
    return HeartbeatReply.model_validate_json(reply.data)


async def check_a_stopping_worker_signs_off(nc: Client, pool: asyncpg.Pool) -> None:
    """A worker's last heartbeat, after draining, leaves no record; one that still holds
    runs is not forgotten (its runs' leases must run out first)."""
    done, busy = f"w-{uuid.uuid4().hex[:8]}", f"w-{uuid.uuid4().hex[:8]}"
    for worker in (done, busy):
        assert (await register(nc, worker)).accepted
    held = [HeldRun(run_id=str(uuid.uuid4()), attempt=1)]
    await beat(nc, Heartbeat(worker_id=done, capacity=1, draining=True, stopping=True))
    await beat(nc, Heartbeat(worker_id=busy, capacity=1, runs=held, draining=True, stopping=True))
    rows = await pool.fetch(
        "SELECT worker_id FROM workers WHERE worker_id = ANY($1::text[])", [done, busy]
    )
    assert [row["worker_id"] for row in rows] == [busy]
