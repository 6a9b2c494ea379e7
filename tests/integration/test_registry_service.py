"""The registry in-process against real Postgres and NATS; fake workers are raw nats-py
requests.

The module gets a NATS server and a database of its own: another registry on the session's
servers (the ``stack``) would share the queue group and answer some of these requests.
"""

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
from nats.aio.client import Client
from nats.aio.msg import Msg
from serverkit import migrated_pool, own_database, own_nats
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.ids import SYSTEM_TENANT, system_assistant_id
from agentlist.contracts.runs import RunCancel, RunKwargs
from agentlist.contracts.workers import (
    GraphInfo,
    GraphSchemas,
    Heartbeat,
    HeartbeatReply,
    HeldRun,
    RegisterReply,
    WorkerControlReply,
    WorkerLanguage,
    WorkerRegister,
)
from agentlist.launcher import Stack
from agentlist.registry.service import serve
from agentlist.registry.settings import RegistrySettings


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = own_nats(tmp_path_factory.mktemp("registry-nats"))
    server.start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module")
async def dsn(servers: Stack) -> AsyncIterator[str]:
    async with own_database(servers.database_url, "registry") as url:
        yield url


@pytest_asyncio.fixture(scope="module")
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(dsn, max_size=4) as pool:
        yield pool


@pytest_asyncio.fixture(scope="module")
async def registry(nats_url: str, dsn: str, pool: asyncpg.Pool) -> AsyncIterator[None]:
    values: dict[str, Any] = {
        "NATS_URL": nats_url,
        "DATABASE_URL": dsn,
        "heartbeat_interval": 0.2,
        "lease_seconds": 3,
        "unhealthy_after_missed": 2,
        "dead_after_seconds": 1.5,
        "liveness_sweep_interval": 0.1,
        "ping_timeout": 0.2,
    }
    stop = asyncio.Event()
    task = asyncio.create_task(serve(RegistrySettings.model_validate(values), stop))
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


@pytest_asyncio.fixture
async def nc(nats_url: str, registry: None) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.drain()


def worker_id() -> str:
    return f"w-{uuid.uuid4().hex[:8]}"


def graph_id() -> str:
    return f"g_{uuid.uuid4().hex[:8]}"


async def register(
    nc: Client, worker: str, graphs: list[str], language: WorkerLanguage = "python"
) -> RegisterReply:
    msg = WorkerRegister(
        worker_id=worker,
        language=language,
        version="0.1.0",
        host="localhost",
        pid=123,
        capacity=4,
        graphs=[
            GraphInfo(
                graph_id=g,
                name=f"{g} graph",
                schemas=GraphSchemas(input_schema={"type": "object"}),
                drawable={"0": {"nodes": [], "edges": []}},
            )
            for g in graphs
        ],
        runtime={"langgraph": "1.0"},
    )
    reply = await _request(
        nc, subjects.registry_register(DEFAULT_TEAM), msg.model_dump_json().encode()
    )
    return RegisterReply.model_validate_json(reply)


async def heartbeat(
    nc: Client, worker: str, runs: list[HeldRun] | None = None, draining: bool = False
) -> HeartbeatReply:
    msg = Heartbeat(worker_id=worker, capacity=4, runs=runs or [], draining=draining)
    reply = await _request(
        nc, subjects.registry_heartbeat(DEFAULT_TEAM), msg.model_dump_json().encode()
    )
    return HeartbeatReply.model_validate_json(reply)


async def _request(nc: Client, subject: str, payload: bytes) -> bytes:
    for _ in range(20):  # the registry may still be starting
        with contextlib.suppress(nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return (await nc.request(subject, payload, timeout=2)).data
        await asyncio.sleep(0.1)
    raise AssertionError(f"no registry answered on {subject}")


async def state_of(pool: asyncpg.Pool, worker: str) -> str | None:
    state: str | None = await pool.fetchval(
        "SELECT state FROM workers WHERE worker_id = $1", worker
    )
    return state


async def test_register_records_worker_graphs_and_system_assistants(
    nc: Client, pool: asyncpg.Pool
) -> None:
    worker, graph = worker_id(), graph_id()
    reply = await register(nc, worker, [graph])
    assert reply.accepted and reply.rejected_graphs == {} and reply.heartbeat_interval == 0.2
    row = await pool.fetchrow("SELECT * FROM workers WHERE worker_id = $1", worker)
    assert row is not None
    assert (row["state"], row["graphs"], row["capacity"], row["runtime"]) == (
        "healthy",
        [graph],
        4,
        {"langgraph": "1.0"},
    )
    stored = await pool.fetchrow("SELECT * FROM graphs WHERE graph_id = $1", graph)
    assert stored is not None and stored["language"] == "python"
    assert stored["schemas"]["input_schema"] == {"type": "object"}
    assert stored["drawable"] == {"0": {"nodes": [], "edges": []}}

    await register(nc, worker_id(), [graph])  # a second worker changes nothing
    assistant_id = system_assistant_id(graph)
    assistants = await pool.fetch("SELECT * FROM assistants WHERE graph_id = $1", graph)
    assert [(a["assistant_id"], a["tenant_id"], a["name"], a["version"]) for a in assistants] == [
        (assistant_id, SYSTEM_TENANT, f"{graph} graph", 1)
    ]
    assert assistants[0]["metadata"] == {"created_by": "system"}
    versions = await pool.fetch(
        "SELECT version FROM assistant_versions WHERE assistant_id = $1", assistant_id
    )
    assert [v["version"] for v in versions] == [1]


async def test_a_graph_id_belongs_to_one_language(nc: Client, pool: asyncpg.Pool) -> None:
    python_worker, js_worker, shared, own = worker_id(), worker_id(), graph_id(), graph_id()
    await register(nc, python_worker, [shared])
    reply = await register(nc, js_worker, [shared, own], language="javascript")
    assert reply.accepted and set(reply.rejected_graphs) == {shared}
    assert await pool.fetchval("SELECT graphs FROM workers WHERE worker_id = $1", js_worker) == [
        own
    ]
    await pool.execute("UPDATE workers SET state = 'dead' WHERE worker_id = $1", python_worker)
    assert (await register(nc, js_worker, [shared, own], "javascript")).rejected_graphs == {}
    assert await pool.fetchval("SELECT language FROM graphs WHERE graph_id = $1", shared) == (
        "javascript"
    )


async def add_running_run(
    pool: asyncpg.Pool, worker: str, attempt: int, cancel: str | None = None
) -> str:
    thread_id, run_id = uuid.uuid4(), uuid.uuid4()
    await pool.execute("INSERT INTO threads (thread_id, tenant_id) VALUES ($1, 't')", thread_id)
    await pool.execute(
        "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs, status,"
        " attempt, worker_id, lease_expires_at, cancel_action, lease_token)"
        " VALUES ($1, $2, 't', $3, 'g', $4, 'running', $5, $6, now() + interval '1 second', $7,"
        " $8)",
        run_id,
        thread_id,
        uuid.uuid4(),
        RunKwargs().model_dump(mode="json"),
        attempt,
        worker,
        cancel,
        token_of(str(run_id)),
    )
    return str(run_id)


def token_of(run_id: str) -> str:
    """The lease token the tests' running runs hold: only their holder knows it."""
    return f"token-{run_id}"


def holding(run_id: str, attempt: int = 1) -> HeldRun:
    return HeldRun(run_id=run_id, attempt=attempt, token=token_of(run_id))


async def lease_left(pool: asyncpg.Pool, run_id: str) -> float:
    left: float = await pool.fetchval(
        "SELECT EXTRACT(EPOCH FROM lease_expires_at - now())::float8 FROM runs WHERE run_id = $1",
        uuid.UUID(run_id),
    )
    return left


async def test_heartbeat_renews_revokes_and_cancels(nc: Client, pool: asyncpg.Pool) -> None:
    worker, other = worker_id(), worker_id()
    await register(nc, worker, [graph_id()])
    owned = await add_running_run(pool, worker, attempt=1)
    superseded = await add_running_run(pool, worker, attempt=2)
    elsewhere = await add_running_run(pool, other, attempt=1)
    cancelled = await add_running_run(pool, worker, attempt=1, cancel="interrupt")
    claimed = await add_running_run(pool, worker, attempt=1)  # named without its token
    held = [
        holding(owned),
        holding(superseded),
        holding(elsewhere),
        holding(cancelled),
        HeldRun(run_id=claimed, attempt=1, token="guessed"),
    ]
    reply = await heartbeat(nc, worker, held)
    assert reply.known and not reply.drain
    assert {r.run_id for r in reply.revoked} == {superseded, elsewhere, claimed}
    assert all(r.token is None for r in reply.revoked), "a token is never sent back"
    assert reply.cancels == [RunCancel(run_id=cancelled, action="interrupt")]
    # Renewed to lease_seconds (3 s) from the heartbeat on; the others keep the 1 s they were
    # given. The margin between them absorbs a loaded machine's delays.
    assert await lease_left(pool, owned) > 1.5
    assert await lease_left(pool, cancelled) > 1.5
    assert await lease_left(pool, superseded) <= 1
    assert await lease_left(pool, elsewhere) <= 1
    assert await lease_left(pool, claimed) <= 1


async def test_drain_requested_and_draining(nc: Client, pool: asyncpg.Pool) -> None:
    worker = worker_id()
    await register(nc, worker, [graph_id()])
    assert (await heartbeat(nc, worker, draining=True)).drain is False
    assert await state_of(pool, worker) == "draining"
    await pool.execute("UPDATE workers SET drain_requested = true WHERE worker_id = $1", worker)
    assert (await heartbeat(nc, worker)).drain is True
    assert await state_of(pool, worker) == "draining"


async def test_unknown_worker_must_register_again(nc: Client) -> None:
    run = HeldRun(run_id=str(uuid.uuid4()), attempt=1, token="unknown")
    reply = await heartbeat(nc, worker_id(), [run])
    assert reply == HeartbeatReply(known=False, revoked=[HeldRun(run_id=run.run_id, attempt=1)])


async def test_silent_worker_becomes_unhealthy_then_dead(nc: Client, pool: asyncpg.Pool) -> None:
    silent = worker_id()  # subscribes to nothing: pings go unanswered
    await register(nc, silent, [graph_id()])

    await eventually(
        lambda: state_of(pool, silent),
        lambda state: state == "unhealthy",
        within=5,
        what="a silent worker unhealthy",
    )
    await eventually(
        lambda: state_of(pool, silent),
        lambda state: state == "dead",
        within=5,
        what="a silent worker dead",
    )
    assert (await heartbeat(nc, silent)).known is False
    assert (await register(nc, silent, [graph_id()])).accepted
    assert await state_of(pool, silent) == "healthy"


async def test_worker_answering_pings_stays_healthy_until_dead(
    nc: Client, pool: asyncpg.Pool
) -> None:
    """Answered pings keep a silent worker healthy, never unhealthy, but not alive: silent
    for ``dead_after_seconds``, it is dead whatever it answers."""
    worker = worker_id()
    pings: list[Msg] = []
    seen: list[str | None] = []

    async def pong(msg: Msg) -> None:
        pings.append(msg)
        await msg.respond(WorkerControlReply(worker_id=worker).model_dump_json().encode())

    async def state_seen() -> str | None:
        seen.append(await state_of(pool, worker))
        return seen[-1]

    sub = await nc.subscribe(subjects.worker_control(DEFAULT_TEAM, worker), cb=pong)
    try:
        await register(nc, worker, [graph_id()])
        await eventually(
            lambda: state_seen() if pings else None,
            lambda state: state is not None,
            within=5,
            what="a ping once the worker was silent past the suspect threshold",
        )
        await heartbeat(nc, worker)
        pinged_before = len(pings)
        await eventually(
            state_seen, lambda state: state == "dead", within=10, every=0.02, what="dead"
        )
    finally:
        await sub.unsubscribe()
    assert len(pings) > pinged_before, "pinged again after its heartbeat, and answered"
    assert "unhealthy" not in seen and seen[0] == "healthy" and seen[-1] == "dead"
    assert (await heartbeat(nc, worker)).known is False
