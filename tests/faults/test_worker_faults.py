"""Workers killed, frozen, drained and poisoned, through the official ``langgraph-sdk``
(issue 4, scenarios 1, 2, 6, 7 and tenant isolation).

Each test starts its own api, registry, scheduler, bridge and workers (``faultkit``), serving
``tests/graphs/faults.py`` under graph ids of its own: the processes it kills serve nothing
else. Nodes record each execution in the effect ledger (a Postgres table), with attempt and pid.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from faultkit import (
    HTTP_TIMEOUT,
    Effect,
    FaultStack,
    Part,
    assert_gap_free,
    attempts_of,
    collect,
    counts,
    effects,
    fault_stack,
    follow_until_step,
    ledger,
    replay,
    wait_exit,
    wait_recorded,
)
from langgraph_sdk import get_client
from serverkit import GATEWAY_ENV, own_servers, tenant_headers
from waitkit import eventually

from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def private_servers() -> Iterator[Stack]:
    """Servers of this module's own: on the session's, the session stack's scheduler, registry
    and bridge would be part of every mesh here (a mesh is every service on its servers), and
    some meshes need settings of their own (``AGENTLIST_SCHEDULER_MAX_ATTEMPTS``: every
    scheduler sweeps every expired lease). One test's mesh at a time runs on them."""
    with own_servers() as stack:
        yield stack


@pytest.fixture
def two_workers(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    with fault_stack(private_servers, tmp_path, log_dir / tmp_path.name, workers=2) as stack:
        yield stack


@pytest.fixture
def draining_workers(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    env = {"AGENTLIST_WORKER_DRAIN_GRACE_SECONDS": "0.5"}
    folder = log_dir / tmp_path.name
    with fault_stack(private_servers, tmp_path, folder, workers=2, env=env) as stack:
        yield stack


async def start_steps(mesh: FaultStack, total: int, delay: float) -> tuple[str, str]:
    thread_id = (await mesh.sdk.threads.create())["thread_id"]
    run = await mesh.sdk.runs.create(
        thread_id,
        mesh.graphs["steps"],
        input={"total": total, "delay": delay},
        stream_mode=["updates", "custom"],
        stream_resumable=True,
    )
    return thread_id, run["run_id"]


async def run_status(sdk: Any, thread_id: str, run_id: str, *statuses: str) -> Any:
    run: Any = await eventually(
        lambda: sdk.runs.get(thread_id, run_id),
        lambda run: run["status"] in statuses,
        within=45,
        what=f"run {run_id} {statuses}",
        every=0.1,
    )
    return run


def step_of(entry: Effect) -> int:
    return int(entry.step.removeprefix("step-"))


def customs(parts: list[Part]) -> list[dict[str, Any]]:
    return [part.data for part in parts if part.event == "custom"]


def at_fence(parts: list[Part], attempt: int) -> tuple[list[Part], list[Part]]:
    """The parts before and after the ``metadata`` event of ``attempt``."""
    index = next(
        i for i, p in enumerate(parts) if p.event == "metadata" and p.data["attempt"] == attempt
    )
    return parts[:index], parts[index + 1 :]


# -- scenario 1: kill -9 mid-run -----------------------------------------------------------------


async def test_a_killed_worker_s_run_resumes_on_another_from_its_checkpoint(
    two_workers: FaultStack,
) -> None:
    mesh, sdk = two_workers, two_workers.sdk
    thread_id, run_id = await start_steps(mesh, total=6, delay=1.0)

    # A client follows the run live, and leaves after step 2 began.
    seen = await follow_until_step(sdk, thread_id, run_id, 2)

    step3 = await wait_recorded(mesh, thread_id, "step-3", attempt=1)
    # Steps 1 and 2 are checkpointed: the thread's state says so (read through a worker).
    await eventually(
        lambda: sdk.threads.get_state(thread_id),
        lambda state: state["values"].get("done") == [1, 2],
        within=10,
        what="steps 1-2 checkpointed",
    )
    holder = mesh.worker_with_pid(step3.pid)
    survivor = next(w for w in mesh.workers() if w is not holder)
    holder.kill()
    killed_at = time.monotonic()

    # The client comes back with the last id it saw and reads on to the end.
    rest: list[Part] = []
    failover = 0.0
    async for raw in sdk.runs.join_stream(thread_id, run_id, last_event_id=seen[-1].id):
        rest.append(Part.of(raw))
        if raw.event == "metadata" and raw.data["attempt"] == 2:
            failover = time.monotonic() - killed_at
    run = await run_status(sdk, thread_id, run_id, "success", "error")
    assert run["status"] == "success", mesh.logs()

    # Gap-free and duplicate-free: what the client saw in two pieces is the whole stream.
    whole = await replay(sdk, thread_id, run_id)
    assert [*seen, *rest] == whole
    assert_gap_free(whole)
    assert attempts_of(whole) == [1, 2]
    print(f"failover: kill -9 -> attempt 2 metadata seen by the client in {failover:.2f}s")
    before, after = at_fence(whole, 2)
    assert {c["attempt"] for c in customs(before)} == {1}
    assert {c["attempt"] for c in customs(after)} == {2}, "attempt-1 events after the fence"

    # The effect ledger: the steps done before the kill ran once; attempt 2 redid at most the
    # step attempt 1 was in (step 3, unless the machine was slow enough for step 4 to start).
    entries = await ledger(mesh, thread_id)
    first = [step_of(e) for e in entries if e.attempt == 1]
    second = [step_of(e) for e in entries if e.attempt == 2]
    assert first == list(range(1, first[-1] + 1)) and first[-1] >= 3
    assert second == list(range(second[0], 7)), second
    assert second[0] in (first[-1], first[-1] + 1), "attempt 2 redid steps done before the kill"
    assert {e.pid for e in entries if e.attempt == 2} == {survivor.pid}
    assert [c["step"] for c in customs(whole)] == first + second
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["done"] == [1, 2, 3, 4, 5, 6]


# -- scenario 2: a worker frozen past its lease ------------------------------------------------


async def test_a_frozen_worker_s_late_events_never_reach_the_stream(
    two_workers: FaultStack,
) -> None:
    mesh, sdk = two_workers, two_workers.sdk
    thread_id, run_id = await start_steps(mesh, total=5, delay=1.0)
    step2 = await wait_recorded(mesh, thread_id, "step-2", attempt=1)
    frozen = mesh.worker_with_pid(step2.pid)
    frozen.signal(signal.SIGSTOP)
    frozen_at = time.monotonic()
    try:
        taken_over = await wait_recorded(mesh, thread_id, "step-2", attempt=2, within=30)
        print(f"failover: SIGSTOP -> attempt 2 running in {time.monotonic() - frozen_at:.2f}s")
    finally:
        frozen.signal(signal.SIGCONT)
    assert taken_over.pid != frozen.pid

    run = await run_status(sdk, thread_id, run_id, "success", "error")
    assert run["status"] == "success", mesh.logs()
    # The thawed worker learns it lost the run and stops it, without a word on the stream.
    await eventually(
        lambda: asyncio.to_thread(frozen.log_tail, 200),
        lambda log: f"run {run_id} attempt 1 revoked" in log,
        within=15,
        what="the thawed worker revokes its attempt",
    )
    assert frozen.alive(), "a thawed worker goes on serving"

    whole = await replay(sdk, thread_id, run_id)
    assert_gap_free(whole)
    assert attempts_of(whole) == [1, 2]
    before, after = at_fence(whole, 2)
    assert {c["attempt"] for c in customs(before)} == {1}
    assert {c["attempt"] for c in customs(after)} == {2}, "the zombie's events got through"
    assert [c["step"] for c in customs(after)] == [2, 3, 4, 5]
    runs = await sdk.runs.list(thread_id)
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "success")]
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["done"] == [1, 2, 3, 4, 5]


# -- scenario 6: draining ----------------------------------------------------------------------


async def workers_view(mesh: FaultStack) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=mesh.api_url, timeout=10) as http:
        response = await http.get("/workers")
        response.raise_for_status()
        listed: list[dict[str, Any]] = response.json()
    return listed


async def worker_entry(mesh: FaultStack, pid: int) -> dict[str, Any] | None:
    mine = set(mesh.graphs.values())
    found = [w for w in await workers_view(mesh) if w["pid"] == pid and mine <= set(w["graphs"])]
    return found[0] if found else None


async def state_of(mesh: FaultStack, pid: int) -> str | None:
    entry = await worker_entry(mesh, pid)
    return entry["state"] if entry is not None else None


async def assert_handed_back(
    mesh: FaultStack, drained: ChildProcess, thread_id: str, run_id: str
) -> None:
    """The drained worker exits; the run it held finishes elsewhere as attempt 2, from where
    attempt 1 stopped."""
    sdk = mesh.sdk
    assert await wait_exit(drained, within=20) == 0, drained.log_tail()
    assert "handing back 1 unfinished runs" in drained.log_tail(200)
    run = await run_status(sdk, thread_id, run_id, "success", "error")
    assert run["status"] == "success", mesh.logs()
    assert attempts_of(await replay(sdk, thread_id, run_id)) == [1, 2]
    entries = await ledger(mesh, thread_id)
    first = [step_of(e) for e in entries if e.attempt == 1]
    second = [step_of(e) for e in entries if e.attempt == 2]
    assert first == list(range(1, first[-1] + 1))
    # Attempt 2 redoes at most the step attempt 1 was in when it was handed back.
    assert second == list(range(second[0], 6)) and second[0] in (first[-1], first[-1] + 1)
    assert {e.pid for e in entries if e.attempt == 2} == {
        w.pid for w in mesh.workers() if w is not drained
    }
    # Gone from the mesh: listed as draining until the registry forgets it, never healthy.
    assert await state_of(mesh, drained.pid) in ("draining", "dead", None)


async def test_sigterm_drains_a_worker_its_run_finishes_elsewhere(
    draining_workers: FaultStack,
) -> None:
    mesh = draining_workers
    thread_id, run_id = await start_steps(mesh, total=5, delay=1.0)
    step2 = await wait_recorded(mesh, thread_id, "step-2", attempt=1)
    holder = mesh.worker_with_pid(step2.pid)
    holder.signal(signal.SIGTERM)

    await eventually(
        lambda: state_of(mesh, holder.pid),
        lambda state: state == "draining",
        within=10,
        what="GET /workers shows the worker draining",
    )
    # A run created while it drains goes to the other worker.
    other_thread, _ = await start_steps(mesh, total=1, delay=0)
    newcomer = await wait_recorded(mesh, other_thread, "step-1")
    assert newcomer.pid != holder.pid
    await assert_handed_back(mesh, holder, thread_id, run_id)


async def test_post_drain_hands_the_run_back_and_the_worker_exits(
    draining_workers: FaultStack,
) -> None:
    mesh = draining_workers
    thread_id, run_id = await start_steps(mesh, total=5, delay=1.0)
    step2 = await wait_recorded(mesh, thread_id, "step-2", attempt=1)
    holder = mesh.worker_with_pid(step2.pid)
    entry = await worker_entry(mesh, holder.pid)
    assert entry is not None and entry["state"] == "healthy" and entry["inflight"] == 1

    async with httpx.AsyncClient(base_url=mesh.api_url, timeout=10) as http:
        missing = await http.post("/workers/py-nobody-00000000/drain")
        assert missing.status_code == 404 and missing.json()["detail"]
        asked = await http.post(f"/workers/{entry['worker_id']}/drain")
    assert asked.status_code == 202
    assert asked.json() == {"worker_id": entry["worker_id"], "drain_requested": True}
    assert await state_of(mesh, holder.pid) == "draining"
    await assert_handed_back(mesh, holder, thread_id, run_id)


# -- scenario 7: poison runs, and other tenants meanwhile ----------------------------------------


async def test_a_graph_error_ends_the_run_after_one_attempt(two_workers: FaultStack) -> None:
    mesh, sdk = two_workers, two_workers.sdk
    thread_id = (await sdk.threads.create())["thread_id"]
    parts = await collect(
        sdk.runs.stream(thread_id, mesh.graphs["raises"], input={}, stream_resumable=True)
    )
    assert [p.event for p in parts] == ["metadata", "error"]
    assert parts[-1].data == {"error": "RuntimeError", "message": "this graph always fails"}
    run_id = parts[0].data["run_id"]
    run = await run_status(sdk, thread_id, run_id, "success", "error")
    assert run["status"] == "error"
    assert attempts_of(await replay(sdk, thread_id, run_id)) == [1]
    assert counts(await ledger(mesh, thread_id)) == {"raise": 1}
    assert (await sdk.threads.get(thread_id))["status"] == "error"


async def test_a_run_that_kills_its_worker_ends_after_max_attempts(
    private_servers: Stack, tmp_path: Path, log_dir: Path
) -> None:
    env = {"AGENTLIST_SCHEDULER_MAX_ATTEMPTS": "2"}
    with fault_stack(
        private_servers, tmp_path, log_dir / tmp_path.name, workers=3, env=env
    ) as mesh:
        sdk = mesh.sdk
        thread_id = (await sdk.threads.create())["thread_id"]
        started = time.monotonic()
        run = await sdk.runs.create(
            thread_id, mesh.graphs["kills_worker"], input={}, stream_resumable=True
        )
        ended = await run_status(sdk, thread_id, run["run_id"], "success", "error")
        print(f"poison run: 2 workers killed, error after {time.monotonic() - started:.2f}s")
        assert ended["status"] == "error"
        result = await sdk.runs.join(thread_id, run["run_id"])
        assert result["__error__"]["error"] == "WorkerLost"

        entries = await ledger(mesh, thread_id)
        assert [e.attempt for e in entries] == [1, 2], "one execution per attempt, then none"
        killed = {e.pid for e in entries}
        assert len(killed) == 2
        assert all(not w.alive() for w in mesh.workers() if w.pid in killed)
        parts = await replay(sdk, thread_id, run["run_id"])
        assert parts[-1].event == "error" and parts[-1].data["error"] == "WorkerLost"

        # The worker it did not reach serves on.
        (survivor,) = [w for w in mesh.workers() if w.alive()]
        other = (await sdk.threads.create())["thread_id"]
        done = await sdk.runs.wait(other, mesh.graphs["sleepy"], input={"delay": 0})
        assert done == {"delay": 0, "slept": 0}
        assert survivor.alive()
        assert counts(await ledger(mesh, thread_id)) == {"kill": 2}


async def timed_runs(sdk: Any, graph_id: str, count: int) -> list[float]:
    """``count`` runs one after another, each on a new thread: seconds from create to result."""
    latencies = []
    for _ in range(count):
        thread_id = (await sdk.threads.create())["thread_id"]
        started = time.monotonic()
        result = await sdk.runs.wait(thread_id, graph_id, input={"delay": 0})
        latencies.append(time.monotonic() - started)
        assert result == {"delay": 0, "slept": 0}
    return latencies


async def test_a_flooding_tenant_does_not_delay_another(
    private_servers: Stack, tmp_path: Path, log_dir: Path
) -> None:
    env = {**GATEWAY_ENV, "AGENTLIST_WORKER_CAPACITY": "2"}
    folder = log_dir / tmp_path.name
    with fault_stack(private_servers, tmp_path, folder, workers=2, env=env) as mesh:
        suffix = uuid.uuid4().hex[:8]
        tenant_a = get_client(
            url=mesh.api_url, timeout=HTTP_TIMEOUT, headers=tenant_headers(f"flood-{suffix}")
        )
        tenant_b = get_client(
            url=mesh.api_url, timeout=HTTP_TIMEOUT, headers=tenant_headers(f"quiet-{suffix}")
        )
        sleepy, raises = mesh.graphs["sleepy"], mesh.graphs["raises"]
        await timed_runs(tenant_b, sleepy, 1)  # warm-up
        alone = await timed_runs(tenant_b, sleepy, 4)

        # Tenant A: 4 slots, 40 runs of 1 s and 4 that fail — 10 s of backlog in order.
        gate = asyncio.Semaphore(8)

        async def flood_one(graph_id: str, graph_input: dict[str, Any]) -> tuple[str, str]:
            async with gate:
                run = await tenant_a.runs.create(
                    str(uuid.uuid4()), graph_id, input=graph_input, if_not_exists="create"
                )
                return run["thread_id"], run["run_id"]

        flood = await asyncio.gather(
            *(flood_one(sleepy, {"delay": 1.0}) for _ in range(40)),
            *(flood_one(raises, {}) for _ in range(4)),
        )
        flooded = await timed_runs(tenant_b, sleepy, 4)
        meanwhile = await asyncio.gather(*(tenant_a.runs.get(t, r) for t, r in flood))
        queued = sum(1 for run in meanwhile if run["status"] == "pending")
        print(
            f"tenant B latency: alone max {max(alone):.2f}s, under A's flood max "
            f"{max(flooded):.2f}s; A's runs still queued when B's were done: {queued}"
        )
        # B's runs, created after A's 44, overtook runs of A still waiting for a slot: a queue
        # in order of creation would have started every one of A's first. (No bound on B's
        # latency: the machine's load decides it, not the fairness.)
        assert queued, "A's flood was no longer queued when B's runs were done: nothing shown"
        # B cannot see A's threads.
        assert not await tenant_b.threads.search(status="busy", limit=100)

        # The flood drains too: every run of A ends, each poison run after one attempt.
        await eventually(
            lambda: tenant_a.threads.search(status="busy", limit=100),
            lambda busy: not busy,
            within=45,
            what="tenant A's flood drained",
            every=0.5,
        )
        ended = await asyncio.gather(*(tenant_a.runs.get(t, r) for t, r in flood))
        statuses = Counter(run["status"] for run in ended)
        assert statuses == {"success": 40, "error": 4}
        # The ledger: each of A's runs executed its one step once.
        done = await effects(mesh.stack.database_url, runs=[run_id for _, run_id in flood])
        assert Counter(effect.run_id for effect in done) == Counter(r for _, r in flood)
        assert counts(done) == {"nap": 40, "raise": 4}
