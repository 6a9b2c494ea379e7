"""The Python worker as a real process against real NATS and Postgres; the test plays the
registry and the scheduler with raw nats-py and reads what the worker publishes to JetStream.

The module has a NATS server of its own, so that no other registry or worker of the session
answers in our place. The SIGTERM test stops a worker of its own: the tests run in any order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from serverkit import own_nats
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
    GetState,
    HeartbeatReply,
    HeldRun,
    RunDispatch,
    RunEvent,
    UpdateState,
    WorkerRegister,
    subjects,
)
from agentlist.contracts.events import new_lease_token
from agentlist.core.nats import ensure_events_stream
from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess
from agentlist.worker.publisher import EventPublisher, OutcomeFields, RunRef

GRAPHS = Path(__file__).parents[1] / "graphs"
SUFFIX = uuid.uuid4().hex[:6]
AGENT, SLOW, FAILS, ASK, STUBBORN = (
    f"wt_{name}_{SUFFIX}" for name in ("agent", "slow", "fails", "ask", "stubborn")
)
WORKER_ID = f"py-test-{SUFFIX}"
CAPACITY = 3
HEARTBEAT_INTERVAL = 0.3


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = own_nats(tmp_path_factory.mktemp("worker-nats"))
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
    folder = tmp_path_factory.mktemp("worker-config")
    graphs = {
        AGENT: f"{GRAPHS}/graphs.py:agent",
        SLOW: f"{GRAPHS}/graphs.py:slow",
        FAILS: f"{GRAPHS}/graphs.py:fails",
        ASK: "worker_graphs:approval",
        STUBBORN: f"{GRAPHS}/graphs.py:stubborn",
    }
    path = folder / "langgraph.json"
    path.write_text(json.dumps({"dependencies": [str(GRAPHS)], "graphs": graphs}))
    return path


@contextlib.asynccontextmanager
async def running_worker(
    servers: Stack, nats_url: str, graphs_config: Path, registry: FakeRegistry, worker_id: str
) -> AsyncIterator[ChildProcess]:
    """A worker process, once it registered; stopped on exit."""
    env = {
        "NATS_URL": nats_url,
        "AGENTLIST_WORKER_ID": worker_id,
        "AGENTLIST_WORKER_CAPACITY": str(CAPACITY),
        "AGENTLIST_WORKER_DRAIN_GRACE_SECONDS": "1",
        "PYTHONPATH": str(GRAPHS),
    }
    child = servers.start_worker(graphs_config, env=env)
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
    servers: Stack, nats_url: str, graphs_config: Path, registry: FakeRegistry
) -> AsyncIterator[ChildProcess]:
    async with running_worker(servers, nats_url, graphs_config, registry, WORKER_ID) as child:
        yield child


async def test_registers_its_graphs_with_schemas(
    worker: ChildProcess, registry: FakeRegistry
) -> None:
    registration = registrations(registry, WORKER_ID)[0]
    assert registration.language == "python"
    assert registration.capacity == CAPACITY
    graphs = {graph.graph_id: graph for graph in registration.graphs}
    assert set(graphs) == {AGENT, SLOW, FAILS, ASK, STUBBORN}
    agent = graphs[AGENT]
    for schema in (agent.schemas.input_schema, agent.schemas.state_schema):
        assert schema is not None and set(schema["properties"]) == {"messages", "turns"}
    assert "0" in agent.drawable and agent.drawable["0"]["nodes"]
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
        AGENT,
        input={"messages": [{"role": "user", "content": "hello"}]},
        stream_mode=["values", "messages-tuple"],
    )
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    reader = await read_run(nc, dispatch.run_id)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    names = {event.event for event in reader.events}
    assert names == {"values", "messages"}
    outcome = reader.outcomes[0]
    assert outcome.status == "success" and outcome.next == [] and outcome.interrupts == {}
    assert outcome.values["messages"][-1]["content"] == "echo: hello"
    assert outcome.checkpoint_id
    run_ids = await pg_pool.fetch(
        "SELECT DISTINCT metadata->>'run_id' AS run_id FROM checkpoints WHERE thread_id = $1",
        dispatch.thread_id,
    )
    assert [row["run_id"] for row in run_ids] == [dispatch.run_id]

    state = await state_request(nc, AGENT, GetState(thread_id=dispatch.thread_id))
    assert state.ok and state.result["checkpoint"]["checkpoint_id"] == outcome.checkpoint_id
    assert state.result["values"] == outcome.values
    assert state.result["next"] == [] and state.result["tasks"] == []
    bad = await state_request(
        nc, AGENT, UpdateState(thread_id=dispatch.thread_id, values={}, as_node="nowhere")
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
    assert (outcome.error.error, outcome.error.message) == ("ValueError", "boom")


async def test_interrupt_then_resume_with_a_command(worker: ChildProcess, nc: Client) -> None:
    first = new_dispatch(ASK, input={"request": "deploy"}, stream_mode=["values", "updates"])
    assert (await send(nc, first, WORKER_ID)).accepted
    reader = await read_run(nc, first.run_id)
    outcome = reader.outcomes[0]
    assert outcome.status == "success" and outcome.next == ["approve"]
    [(_task_id, [interrupt])] = outcome.interrupts.items()
    assert interrupt["value"] == {"question": "approve deploy?"} and interrupt["id"]
    assert reader.events[-1].event == "values"
    assert reader.events[-1].data["__interrupt__"] == [interrupt]

    resume = new_dispatch(ASK, thread_id=first.thread_id, command={"resume": "yes"})
    assert (await send(nc, resume, WORKER_ID)).accepted
    outcome = (await read_run(nc, resume.run_id)).outcomes[0]
    assert outcome.status == "success" and outcome.next == []
    assert outcome.values["decision"] == "yes"


async def test_cancel_interrupt_stops_the_run(worker: ChildProcess, nc: Client) -> None:
    dispatch = new_dispatch(SLOW, input={"delay": 0.2, "total": 100})
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    # The second step under way: the first one's checkpoint is written (an event may precede
    # its checkpoint, which the outcome's values come from).
    await run_event(nc, dispatch.run_id, lambda values: len(values.get("steps", [])) >= 2)
    await cancel(nc, dispatch.run_id, "interrupt")
    reader = await read_run(nc, dispatch.run_id, seconds=10)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    outcome = reader.outcomes[0]
    assert outcome.status == "interrupted"
    assert 0 < len(outcome.values["steps"]) < 100


async def test_cancel_rollback_deletes_what_the_run_wrote(
    worker: ChildProcess, nc: Client, pg_pool: asyncpg.Pool
) -> None:
    done = new_dispatch(SLOW, input={"delay": 0.01, "total": 2})
    assert (await send(nc, done, WORKER_ID)).accepted
    before = (await read_run(nc, done.run_id)).outcomes[0]
    assert before.values["steps"] == [1, 2]

    doomed = new_dispatch(SLOW, thread_id=done.thread_id, input={"delay": 0.2, "total": 100})
    assert (await send(nc, doomed, WORKER_ID)).accepted
    await run_event(nc, doomed.run_id, lambda values: len(values.get("steps", [])) > 2)
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
    runs = [new_dispatch(SLOW, input={"delay": 0.2, "total": 100}) for _ in range(CAPACITY)]
    for dispatch in runs:
        assert (await send(nc, dispatch, WORKER_ID)).accepted
    assert (await send(nc, runs[0], WORKER_ID)).accepted, "a repeated dispatch is accepted again"
    refused = await send(nc, new_dispatch(SLOW, input={"total": 1}), WORKER_ID)
    assert not refused.accepted and refused.reason and "capacity" in refused.reason
    assert await inflight(nc, WORKER_ID) == CAPACITY
    for dispatch in runs:
        await cancel(nc, dispatch.run_id, "interrupt")
    for dispatch in runs:
        reader = await read_run(nc, dispatch.run_id)
        assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
        assert reader.outcomes[0].status == "interrupted"
    await idle(nc, WORKER_ID)  # the next test may need all of its capacity


async def test_a_run_slow_to_stop_is_logged_with_where_it_hangs_then_ends(
    worker: ChildProcess, nc: Client
) -> None:
    """Its outcome, and the client waiting for it, wait for the graph to let go: the log says
    which code holds on."""
    # It holds on 8 s: the log comes 5 s after the cancel, with margin for a late cancel.
    dispatch = new_dispatch(STUBBORN, input={"hold": 8.0})
    assert (await send(nc, dispatch, WORKER_ID)).accepted
    await run_event(nc, dispatch.run_id, lambda values: values.get("hold") == 8.0)
    await cancel(nc, dispatch.run_id, "interrupt")
    reader = await read_run(nc, dispatch.run_id)
    assert_well_formed(reader, dispatch.run_id, token=dispatch.token)
    assert reader.outcomes[0].status == "interrupted"
    log = worker.log_path.read_text(errors="replace") if worker.log_path else ""
    (told,) = [line for line in log.splitlines() if dispatch.run_id in line and "still" in line]
    assert "still stopping after 5s" in told
    assert "in hold_on" in log.split(told, 1)[1], "the stack names the graph's node"


async def test_revoke_then_retry_resumes_from_the_runs_checkpoint(
    worker: ChildProcess, nc: Client, registry: FakeRegistry
) -> None:
    first = new_dispatch(SLOW, input={"delay": 0.3, "total": 6}, stream_mode=["values"])
    assert (await send(nc, first, WORKER_ID)).accepted
    await eventually(
        lambda: any(first.run_id in {r.run_id for r in h.runs} for h in registry.heartbeats),
        within=5,
        what="a heartbeat holding the run",
    )
    # Two steps done: the first one's checkpoint is written, for the retry to resume from.
    await run_event(nc, first.run_id, lambda values: len(values.get("steps", [])) >= 2)
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
    assert second[-1].status == "success" and second[-1].values["steps"] == [1, 2, 3, 4, 5, 6]
    first_values = second[0]
    assert isinstance(first_values, RunEvent) and first_values.data["steps"], "continued"


async def test_unknown_worker_registers_again(worker: ChildProcess, registry: FakeRegistry) -> None:
    count = len(registrations(registry, WORKER_ID))
    registry.scripted.append(HeartbeatReply(known=False))
    await eventually(
        unless_exited(worker, lambda: len(registrations(registry, WORKER_ID)) > count),
        within=5,
        what="the worker registered again",
        context=worker.log_tail,
    )


async def test_events_wait_for_the_events_stream(nc: Client) -> None:
    """A worker may start before anything created the stream: it retries, in order."""
    js = nc.jetstream()
    await js.delete_stream(subjects.EVENTS_STREAM)
    run_id = str(uuid.uuid4())
    token = new_lease_token()
    publisher = EventPublisher(js, RunRef(run_id, "thread", 1, token), ack_timeout=1)

    async def publish_all() -> None:
        for index in range(5):
            await publisher.event("custom", {"index": index})
        await publisher.outcome(OutcomeFields("success", values={"done": True}))

    task = asyncio.create_task(publish_all())
    # Half a second without the stream is the point: the publisher must still be waiting.
    await asyncio.sleep(0.5)
    assert not task.done()
    await ensure_events_stream(js, 3600, 1)
    await asyncio.wait_for(task, 15)
    reader = await read_run(nc, run_id)
    assert_well_formed(reader, run_id, token=token)
    assert [event.data for event in reader.events] == [{"index": i} for i in range(5)]


@pytest.mark.skipif(sys.platform == "win32", reason="signals")
async def test_sigterm_drains_and_releases_unfinished_runs(
    servers: Stack, nats_url: str, graphs_config: Path, nc: Client, registry: FakeRegistry
) -> None:
    worker_id = f"{WORKER_ID}-term"
    async with running_worker(servers, nats_url, graphs_config, registry, worker_id) as worker:
        slow = new_dispatch(SLOW, input={"delay": 0.2, "total": 1000})
        assert (await send(nc, slow, worker_id)).accepted
        await first_event(nc, slow.run_id)
        worker.signal(signal.SIGTERM)
        await eventually(
            lambda: any(h.draining and h.worker_id == worker_id for h in registry.heartbeats),
            within=5,
            what="a draining heartbeat",
        )
        refused = await send(nc, new_dispatch(AGENT, input={}), worker_id)
        assert not refused.accepted and refused.reason == "worker is draining"
        reader = await read_run(nc, slow.run_id, seconds=15)
        assert_well_formed(reader, slow.run_id, token=slow.token)
        assert reader.outcomes[0].status == "released"
        assert reader.outcomes[0].values["steps"]
        await eventually(lambda: not worker.alive(), within=15, what="the worker exited")
        assert worker.popen.returncode == 0
    mine = [h for h in registry.heartbeats if h.worker_id == worker_id]
    assert mine[-1].runs == [] and mine[-1].draining and mine[-1].stopping
    assert not any(h.stopping for h in mine[:-1])
