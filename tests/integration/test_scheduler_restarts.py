"""The scheduler rides out a NATS restart and the loss of its Postgres connections."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import nats
import pytest
import pytest_asyncio
from nats.aio.msg import Msg
from serverkit import own_database, own_nats
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.runs import DispatchReply, RunDispatch, RunKwargs
from agentlist.db.pool import create_pool, migrate
from agentlist.launcher import Stack
from agentlist.launcher.servers import NatsServer
from agentlist.scheduler.service import serve
from agentlist.scheduler.settings import SchedulerSettings

ACCEPT = DispatchReply(accepted=True).model_dump_json().encode()


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = own_nats(tmp_path_factory.mktemp("scheduler-nats"))
    server.start()
    yield server
    server.stop()


@pytest_asyncio.fixture(scope="module")
async def dsn(servers: Stack) -> AsyncIterator[str]:
    async with own_database(servers.database_url, "sched_rs") as url:
        yield url


async def test_dispatches_resume_after_nats_restart_and_lost_connections(
    nats_server: NatsServer, dsn: str, servers: Stack
) -> None:
    pool = await create_pool(dsn, max_size=2)
    await migrate(pool)
    worker_id = f"fake-{uuid.uuid4().hex[:8]}"
    await pool.execute(
        "INSERT INTO workers (worker_id, language, version, host, capacity, graphs)"
        " VALUES ($1, 'python', '1', 'h', 100, ARRAY['g'])",
        worker_id,
    )
    received: list[str] = []

    async def on_dispatch(msg: Msg) -> None:
        received.append(RunDispatch.model_validate_json(msg.data).run_id)
        await msg.respond(ACCEPT)

    values: dict[str, Any] = {
        "NATS_URL": nats_server.url,
        "DATABASE_URL": dsn,
        "poll_interval": 0.2,
        "max_backoff": 0.5,
        "heartbeat_interval": 5,
    }
    stop = asyncio.Event()
    task = asyncio.create_task(serve(SchedulerSettings.model_validate(values), stop))
    worker = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        await worker.subscribe(subjects.worker_dispatch(DEFAULT_TEAM, worker_id), cb=on_dispatch)
        await worker.flush()
        first = await _add_run(pool)
        await eventually(lambda: first in received, within=10, what="the first run dispatched")

        nats_server.stop()
        second = await _add_run(pool)
        # The outage is the point: a second of claims that fail or are undone without NATS.
        await asyncio.sleep(1.0)
        assert second not in received
        nats_server.start()
        await eventually(
            lambda: second in received, within=20, what="a run dispatched after NATS restarted"
        )
        assert await _status(pool, second) == ("running", 1)

        await pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        third = await _add_run(pool)
        await eventually(
            lambda: third in received,
            within=20,
            what="a run dispatched after its connections were cut",
        )
        assert not task.done()
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)  # the scheduler stops cleanly, or the test fails
        finally:
            await worker.close()
            await pool.close()


async def _add_run(pool: asyncpg.Pool) -> str:
    thread_id, run_id = uuid.uuid4(), uuid.uuid4()
    for _ in range(50):  # the pool's own connections may have just been terminated
        with contextlib.suppress(asyncpg.PostgresConnectionError, asyncpg.InterfaceError):
            await pool.execute(
                "INSERT INTO threads (thread_id, tenant_id) VALUES ($1, 't')", thread_id
            )
            break
        await asyncio.sleep(0.1)
    await pool.execute(
        "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs)"
        " VALUES ($1, $2, 't', $3, 'g', $4)",
        run_id,
        thread_id,
        uuid.uuid4(),
        RunKwargs().model_dump(mode="json"),
    )
    return str(run_id)


async def _status(pool: asyncpg.Pool, run_id: str) -> tuple[str, int]:
    row = await pool.fetchrow(
        "SELECT status, attempt FROM runs WHERE run_id = $1", uuid.UUID(run_id)
    )
    assert row is not None
    return row["status"], row["attempt"]
