"""The TypeScript worker (services/worker-js) as a real process against real NATS and Postgres.

The test plays the registry and the scheduler with raw nats-py and reads what the worker
publishes to JetStream, as tests/integration/test_worker_service.py does for the Python worker:
both must behave the same, message for message. The module has a NATS server of its own, so
no other registry or worker of the session answers in our place. The tests that stop or break
a worker start one of their own: the tests run in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from serverkit import own_nats, own_servers_in_thread
from waitkit import eventually
from workerkit import (
    FakeRegistry,
    assert_well_formed,
    cancel,
    dropped,
    first_event,
    idle,
    inflight,
    new_dispatch,
    read_run,
    run_event,
    send,
    state_request,
    unless_exited,
)

from agentlist.api.stateops import answers
from agentlist.contracts import (
    GetHistory,
    GetState,
    HeartbeatReply,
    HeldRun,
    RunDispatch,
    RunEvent,
    UpdateState,
    WorkerRegister,
    subjects,
)
from agentlist.core.nats import ensure_events_stream
from agentlist.launcher import Stack
from agentlist.launcher.jsworker import js_worker_problem, start_js_worker, worker_js_dir
from agentlist.launcher.process import ChildProcess


def test_the_js_worker_can_start_here() -> None:
    """The JS worker's tests need `npm ci` in services/worker-js (the README's set-up does it)."""
    assert js_worker_problem() is None, js_worker_problem()


PACKAGE = worker_js_dir()
SUFFIX = uuid.uuid4().hex[:6]
ECHO, ASK, SLOW, FAILS = (f"js_{name}_{SUFFIX}" for name in ("echo", "ask", "slow", "fails"))
WORKER_ID = f"js-test-{SUFFIX}"
CAPACITY = 3
HEARTBEAT_INTERVAL = 0.3
THREAD_STATE_KEYS = {
    "values",
    "next",
    "tasks",
    "checkpoint",
    "metadata",
    "created_at",
    "parent_checkpoint",
    "interrupts",
    "checkpoint_id",
    "parent_checkpoint_id",
}


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = own_nats(tmp_path_factory.mktemp("worker-js-nats"))
    server.start()
    yield server.url
    server.stop()


@pytest_asyncio.fixture(scope="module")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    await ensure_events_stream(client.jetstream(), 3600, 1)
    yield client
    await client.close()


@pytest_asyncio.fixture(scope="module")
async def registry(nc: Client) -> AsyncIterator[FakeRegistry]:
    fake = FakeRegistry(heartbeat_interval=HEARTBEAT_INTERVAL)
    subscriptions = [
        await nc.subscribe(subjects.REGISTRY_REGISTER_ALL, cb=fake.on_register),
        await nc.subscribe(subjects.REGISTRY_HEARTBEAT_ALL, cb=fake.on_heartbeat),
    ]
    yield fake
    for subscription in subscriptions:
        await subscription.unsubscribe()


@pytest.fixture(scope="module")
def graphs_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    examples = PACKAGE / "examples" / "src"
    graphs = {
        ECHO: f"{examples}/echo.ts:graph",
        ASK: f"{examples}/interrupt.ts:graph",
        SLOW: f"{examples}/slow.ts:graph",
        FAILS: f"{PACKAGE}/test/fixtures/mesh.ts:fails",
    }
    path = tmp_path_factory.mktemp("worker-js-config") / "langgraph.json"
    path.write_text(json.dumps({"graphs": graphs, "env": {"ECHO_PREFIX": "echo: "}}))
    return path


@contextlib.asynccontextmanager
async def running_worker(
    servers: Stack,
    nats_url: str,
    graphs_config: Path,
    registry: FakeRegistry,
    log_dir: Path,
    worker_id: str,
) -> AsyncIterator[ChildProcess]:
    """A JS worker process, once it registered; stopped on exit."""
    env = {
        "NATS_URL": nats_url,
        "AGENTLIST_WORKER_ID": worker_id,
        "AGENTLIST_WORKER_CAPACITY": str(CAPACITY),
        "AGENTLIST_WORKER_DRAIN_GRACE_SECONDS": "1",
    }
    child = start_js_worker(
        servers, graphs_config, name=worker_id, env=env, log_path=log_dir / f"{worker_id}.log"
    )
    try:
        await eventually(
            unless_exited(child, lambda: registrations(registry, worker_id)),
            within=60,
            what=f"{worker_id} registered",
            context=child.log_tail,
        )
        yield child
    finally:
        await asyncio.to_thread(child.stop)  # the test's fake registry answers meanwhile


def registrations(registry: FakeRegistry, worker_id: str) -> list[WorkerRegister]:
    return [r for r in registry.registrations if r.worker_id == worker_id]


@pytest_asyncio.fixture(scope="module")
async def worker(
    servers: Stack, nats_url: str, graphs_config: Path, registry: FakeRegistry, log_dir: Path
) -> AsyncIterator[ChildProcess]:
    async with running_worker(
        servers, nats_url, graphs_config, registry, log_dir, WORKER_ID
    ) as child:
        yield child


# -- helpers ----------------------------------------------------------------------------------


# -- tests ------------------------------------------------------------------------------------


async def test_registers_its_graphs_with_schemas(
    worker: ChildProcess, registry: FakeRegistry
) -> None:
    registration = registrations(registry, WORKER_ID)[0]
    assert registration.language == "javascript"
    assert registration.capacity == CAPACITY
    assert registration.runtime["node"] and registration.runtime["langgraph"] != "unknown"
    graphs = {graph.graph_id: graph for graph in registration.graphs}
    assert set(graphs) == {ECHO, ASK, SLOW, FAILS}
    echo = graphs[ECHO]
    assert echo.name == "Echo agent (JS)"
    assert echo.schemas.state_schema is not None
    assert set(echo.schemas.state_schema["properties"]) == {"messages", "reply"}
    nodes = [node["id"] for node in echo.drawable["0"]["nodes"]]
    assert nodes == ["__start__", "prepare", "respond", "__end__"]
    await eventually(
        unless_exited(
            worker, lambda: sum(h.worker_id == WORKER_ID for h in registry.heartbeats) >= 2
        ),
        within=5,
        what="two heartbeats",
        context=worker.log_tail,
    )


async def test_run_streams_numbered_events_then_one_success(
    worker: ChildProcess, nc: Client, pg_pool: asyncpg.Pool
) -> None:
    dispatch = new_dispatch(
        ECHO,
        input={"messages": [{"role": "user", "content": "hello"}]},
        stream_mode=["values", "messages-tuple", "updates"],
    )
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    reader = await read_run(nc, dispatch.run_id)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    assert {event.event for event in reader.events} == {"values", "messages", "updates"}
    tokens = [event.data for event in reader.events if event.event == "messages"]
    assert "".join(chunk["content"] for chunk, _ in tokens) == "echo: hello"
    chunk, metadata = tokens[0]
    assert chunk["type"] == "AIMessageChunk" and chunk["tool_call_chunks"] == []
    assert metadata["langgraph_node"] == "respond"
    outcome = reader.outcomes[0]
    assert outcome.status == "success" and outcome.next == [] and outcome.interrupts == {}
    human, ai = outcome.values["messages"]
    assert (human["type"], human["content"]) == ("human", "hello")
    assert (ai["type"], ai["content"]) == ("ai", "echo: hello")
    assert set(ai) >= {"additional_kwargs", "response_metadata", "id", "name", "tool_calls"}
    assert outcome.checkpoint_id
    run_ids = await pg_pool.fetch(
        "SELECT DISTINCT metadata->>'run_id' AS run_id FROM checkpoints WHERE thread_id = $1",
        dispatch.thread_id,
    )
    assert [row["run_id"] for row in run_ids] == [dispatch.run_id]

    state = await state_request(nc, ECHO, GetState(thread_id=dispatch.thread_id))
    assert state.ok and set(state.result) == THREAD_STATE_KEYS
    assert state.result["checkpoint"]["checkpoint_id"] == outcome.checkpoint_id
    assert state.result["values"] == outcome.values
    assert state.result["next"] == [] and state.result["tasks"] == []
    assert state.result["metadata"]["run_id"] == dispatch.run_id
    history = await state_request(nc, ECHO, GetHistory(thread_id=dispatch.thread_id, limit=2))
    assert history.ok and len(history.result) == 2
    assert history.result[0]["checkpoint_id"] == outcome.checkpoint_id
    bad = await state_request(
        nc, ECHO, UpdateState(thread_id=dispatch.thread_id, values={}, as_node="nowhere")
    )
    assert not bad.ok and bad.status_code == 400
    # Each answer names the thread it is about, for the API to check.
    assert state.thread_id == bad.thread_id == dispatch.thread_id
    assert answers(state, dispatch.thread_id)


async def test_graph_that_raises_ends_in_error(worker: ChildProcess, nc: Client) -> None:
    dispatch = new_dispatch(FAILS, input={"reason": "boom"})
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    reader = await read_run(nc, dispatch.run_id)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    outcome = reader.outcomes[0]
    assert outcome.status == "error"
    assert outcome.error is not None
    assert (outcome.error.error, outcome.error.message) == ("RangeError", "boom")


async def test_interrupt_then_resume_with_a_command(worker: ChildProcess, nc: Client) -> None:
    first = new_dispatch(ASK, input={"topic": "deploy"}, stream_mode=["values", "updates"])
    assert (await send(nc, first, WORKER_ID)).accepted
    reader = await read_run(nc, first.run_id)
    assert_well_formed(reader, first.run_id, token=first.token)
    outcome = reader.outcomes[0]
    assert outcome.status == "success" and outcome.next == ["ask"]
    [(_task_id, [interrupt])] = outcome.interrupts.items()
    assert interrupt["value"] == {"question": "Approve deploy?"} and interrupt["id"]
    assert reader.events[-1].event == "values"
    assert reader.events[-1].data["__interrupt__"] == [interrupt]

    state = await state_request(nc, ASK, GetState(thread_id=first.thread_id))
    assert state.ok and state.result["next"] == ["ask"]
    assert state.result["interrupts"] == [interrupt]
    [task] = state.result["tasks"]
    assert task["name"] == "ask" and task["interrupts"] == [interrupt]

    resume = new_dispatch(ASK, thread_id=first.thread_id, command={"resume": "yes"})
    assert (await send(nc, resume, WORKER_ID)).accepted
    outcome = (await read_run(nc, resume.run_id)).outcomes[0]
    assert outcome.status == "success" and outcome.next == []
    assert outcome.values == {"topic": "deploy", "answer": "yes"}


async def test_cancel_interrupt_stops_the_run(worker: ChildProcess, nc: Client) -> None:
    dispatch = new_dispatch(SLOW, input={"delay_ms": 200, "steps": 100})
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    # The second step under way: the first one's checkpoint is written (an event may precede
    # its checkpoint, which the outcome's values come from).
    await run_event(nc, dispatch.run_id, lambda values: values.get("count", 0) >= 2)
    await cancel(nc, dispatch.run_id, "interrupt")
    reader = await read_run(nc, dispatch.run_id, seconds=10)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    outcome = reader.outcomes[0]
    assert outcome.status == "interrupted"
    assert 0 < outcome.values["count"] < 100


async def test_cancel_rollback_deletes_what_the_run_wrote(
    worker: ChildProcess, nc: Client, pg_pool: asyncpg.Pool
) -> None:
    done = new_dispatch(SLOW, input={"delay_ms": 1, "steps": 2})
    assert (await send(nc, done, WORKER_ID)).accepted
    before = (await read_run(nc, done.run_id)).outcomes[0]
    assert before.values["count"] == 2

    doomed = new_dispatch(SLOW, thread_id=done.thread_id, input={"delay_ms": 200, "steps": 100})
    assert (await send(nc, doomed, WORKER_ID)).accepted
    await run_event(nc, doomed.run_id, lambda values: values.get("count", 0) > 2)
    await cancel(nc, doomed.run_id, "rollback")
    outcome = (await read_run(nc, doomed.run_id)).outcomes[0]
    assert outcome.status == "rollback"
    assert outcome.values == before.values
    assert outcome.checkpoint_id == before.checkpoint_id
    left = await pg_pool.fetchval(
        "SELECT count(*) FROM checkpoints WHERE thread_id = $1 AND metadata->>'run_id' = $2",
        doomed.thread_id,
        doomed.run_id,
    )
    assert left == 0


async def test_capacity_and_idempotent_redispatch(worker: ChildProcess, nc: Client) -> None:
    await idle(nc, WORKER_ID)
    runs = [new_dispatch(SLOW, input={"delay_ms": 200, "steps": 100}) for _ in range(CAPACITY)]
    for dispatch in runs:
        assert (await send(nc, dispatch, WORKER_ID)).accepted
    assert (await send(nc, runs[0], WORKER_ID)).accepted, "a repeated dispatch is accepted again"
    refused = await send(nc, new_dispatch(SLOW, input={"steps": 1}), WORKER_ID)
    assert not refused.accepted and refused.reason and "capacity" in refused.reason
    unknown = await send(nc, new_dispatch("not_served"), WORKER_ID)
    assert not unknown.accepted
    assert await inflight(nc, WORKER_ID) == CAPACITY
    for dispatch in runs:
        await cancel(nc, dispatch.run_id, "interrupt")
    for dispatch in runs:
        reader = await read_run(nc, dispatch.run_id)
        assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
        assert reader.outcomes[0].status == "interrupted"
    await idle(nc, WORKER_ID)  # the next test may need all of its capacity


async def test_revoke_then_retry_resumes_from_the_runs_checkpoint(
    worker: ChildProcess, nc: Client, registry: FakeRegistry
) -> None:
    await idle(nc, WORKER_ID)
    first = new_dispatch(SLOW, input={"delay_ms": 300, "steps": 6}, stream_mode=["values"])
    assert (await send(nc, first, WORKER_ID)).accepted
    await eventually(
        unless_exited(
            worker,
            lambda: any(first.run_id in {r.run_id for r in h.runs} for h in registry.heartbeats),
        ),
        within=5,
        what="a heartbeat holding the run",
        context=worker.log_tail,
    )
    # Two steps done: the first one's checkpoint is written, for the retry to resume from.
    await run_event(nc, first.run_id, lambda values: values.get("count", 0) >= 2)
    held = HeldRun(run_id=first.run_id, attempt=1)
    registry.scripted.append(HeartbeatReply(known=True, revoked=[held]))
    await eventually(
        unless_exited(worker, lambda: not registry.scripted),
        within=5,
        what="the worker heard the revocation",
        context=worker.log_tail,
    )
    await dropped(registry, WORKER_ID, first.run_id, since=len(registry.heartbeats))
    assert (await read_run(nc, first.run_id, until_outcome=False, seconds=0.5)).outcomes == []

    retry = RunDispatch.model_validate(
        {**first.model_dump(), "attempt": 2, "resume_from_checkpoint": True}
    )
    assert (await send(nc, retry, WORKER_ID)).accepted
    reader = await read_run(nc, first.run_id)
    second = [m for m in reader.messages if m.attempt == 2]
    assert [m.seq for m in second] == list(range(1, len(second) + 1))
    assert second[-1].status == "success" and second[-1].values["count"] == 6
    first_values = second[0]
    assert isinstance(first_values, RunEvent) and first_values.data["count"] > 0, "continued"


async def test_unknown_worker_registers_again(worker: ChildProcess, registry: FakeRegistry) -> None:
    count = len(registrations(registry, WORKER_ID))
    registry.scripted.append(HeartbeatReply(known=False))
    await eventually(
        unless_exited(worker, lambda: len(registrations(registry, WORKER_ID)) > count),
        within=5,
        what="the worker registered again",
        context=worker.log_tail,
    )


async def test_a_run_whose_postgres_stops_is_handed_back(
    nats_url: str,
    nc: Client,
    graphs_config: Path,
    registry: FakeRegistry,
    log_dir: Path,
) -> None:
    """As the Python worker: a store that went away is no fault of the graph, so the run is
    released for its next attempt to resume from its last checkpoint; the worker serves on."""
    worker_id = f"{WORKER_ID}-pg"
    async with own_servers_in_thread() as servers:
        env = {"NATS_URL": nats_url, "AGENTLIST_WORKER_ID": worker_id}
        child = start_js_worker(
            servers, graphs_config, name="worker-js-pg", env=env, log_path=log_dir / "pg.log"
        )
        try:
            await eventually(
                lambda: any(r.worker_id == worker_id for r in registry.registrations),
                within=60,
                what=f"{worker_id} registered",
            )
            first = new_dispatch(SLOW, input={"delay_ms": 200, "steps": 15})
            assert (await send(nc, first, worker_id)).accepted
            # A few steps done, each with its checkpoint.
            await run_event(nc, first.run_id, lambda values: values.get("count", 0) >= 3)
            postgres = servers.servers["postgres"]
            await asyncio.to_thread(postgres.stop)
            lost = await read_run(nc, first.run_id)
            assert [m.status for m in lost.outcomes] == ["released"], child.log_tail()
            await asyncio.to_thread(postgres.start)

            retry = RunDispatch.model_validate(
                {**first.model_dump(), "attempt": 2, "resume_from_checkpoint": True}
            )
            assert (await send(nc, retry, worker_id)).accepted
            reader = await eventually(
                lambda: read_run(nc, first.run_id, until_outcome=False),
                lambda found: len(found.outcomes) >= 2,
                within=20,
                every=0.2,
                what="the retry's outcome",
                context=child.log_tail,
            )
            second = [m for m in reader.messages if m.attempt == 2]
            assert second[-1].status == "success", child.log_tail()
            assert second[-1].values["count"] == 15
            first_values = second[0]
            assert isinstance(first_values, RunEvent) and first_values.data["count"] > 0, "resumed"
            assert child.alive()
        finally:
            await asyncio.to_thread(child.stop)


async def test_sigterm_drains_and_releases_unfinished_runs(
    servers: Stack,
    nats_url: str,
    graphs_config: Path,
    nc: Client,
    registry: FakeRegistry,
    log_dir: Path,
) -> None:
    worker_id = f"{WORKER_ID}-term"
    async with running_worker(
        servers, nats_url, graphs_config, registry, log_dir, worker_id
    ) as worker:
        dispatch = new_dispatch(SLOW, input={"delay_ms": 200, "steps": 100})
        assert (await send(nc, dispatch, worker_id)).accepted
        await first_event(nc, dispatch.run_id)
        worker.signal(signal.SIGTERM)
        await eventually(
            unless_exited(
                worker,
                lambda: any(h.draining and h.worker_id == worker_id for h in registry.heartbeats),
            ),
            within=5,
            what="a draining heartbeat",
            context=worker.log_tail,
        )
        refused = await send(nc, new_dispatch(SLOW, input={"steps": 1}), worker_id)
        assert not refused.accepted and refused.reason and "draining" in refused.reason
        reader = await read_run(nc, dispatch.run_id, seconds=15)
        assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
        assert reader.outcomes[0].status == "released"
        assert 0 < reader.outcomes[0].values["count"] < 100
        await asyncio.to_thread(worker.popen.wait, 15)
        assert worker.popen.returncode == 0, worker.log_tail()
    mine = [h for h in registry.heartbeats if h.worker_id == worker_id]
    assert mine[-1].stopping and mine[-1].runs == [] and not any(h.stopping for h in mine[:-1])
