"""Failover faster than the lease when a worker's death is known (issue 14, point 3).

A worker holding a slow run is killed with -9. When its pool reports the child lost, or the
registry's own sweeper judges it dead, its run goes to its next attempt at once, still fenced;
otherwise the lease decides, as it does for a silent or partitioned worker. The lease here is
10 s (the default) so that the figures say which path was taken; each test prints its figure.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest
from faultkit import (
    FaultStack,
    Part,
    assert_gap_free,
    attempts_of,
    fault_stack,
    ledger,
    replay,
    wait_recorded,
)
from serverkit import own_servers

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.workers import PoolReply, PoolReport
from agentlist.launcher import Stack

pytestmark = pytest.mark.slow

LEASE = {"AGENTLIST_LEASE_SECONDS": "10"}
FAILOVER_TARGET = 2.0
"""Seconds from kill -9 to attempt 2's first event, when the pool reports the child lost."""


@pytest.fixture(scope="module")
def private_servers() -> Iterator[Stack]:
    """Servers of this module's own (see ``test_worker_faults``): one mesh at a time on them."""
    with own_servers() as stack:
        yield stack


@pytest.fixture
def leased_workers(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    with fault_stack(private_servers, tmp_path, log_dir / tmp_path.name, env=LEASE) as stack:
        yield stack


@pytest.fixture
def quickly_dead_workers(
    private_servers: Stack, tmp_path: Path, log_dir: Path
) -> Iterator[FaultStack]:
    """The registry calls a worker silent for 2.5 s dead, well before its runs' 10 s leases."""
    env = {**LEASE, "AGENTLIST_REGISTRY_DEAD_AFTER_SECONDS": "2.5"}
    with fault_stack(private_servers, tmp_path, log_dir / tmp_path.name, env=env) as stack:
        yield stack


async def worker_id_of(mesh: FaultStack, pid: int) -> str:
    found = await db_value(
        mesh, "SELECT worker_id FROM workers WHERE pid = $1 AND state <> 'dead'", pid
    )
    assert isinstance(found, str), f"no live worker with pid {pid}"
    return found


async def db_value(mesh: FaultStack, query: str, *args: object) -> object:
    conn = await asyncpg.connect(mesh.stack.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def report_lost(mesh: FaultStack, worker_id: str, live: str) -> PoolReply:
    """What ``agentlist pool`` sends when its child exits, with the team's credentials."""
    url = mesh.stack.url_as(mesh.stack.nats_url, "worker")
    client = await nats.connect(url, inbox_prefix="_INBOX_worker", allow_reconnect=False)
    try:
        message = PoolReport(
            pool_id="failover-pool",
            graphs=[mesh.graphs["steps"]],
            minimum=2,
            maximum=2,
            target=2,
            workers=[live],
            lost=[worker_id],
            reason="child exited",
        )
        answer = await client.request(
            subjects.registry_pool(DEFAULT_TEAM), message.model_dump_json().encode(), timeout=5
        )
    finally:
        await client.close()
    return PoolReply.model_validate_json(answer.data)


async def kill_holder_and_time_failover(mesh: FaultStack, *, report: bool) -> float:
    """Start a run of six 1-second steps, kill -9 its worker during step 3 (reporting it lost,
    if ``report``), and check the run ends well: every completed step ran once, the stream is
    gap-free, the second attempt ran on the survivor. Returns the seconds from the kill to the
    first event of attempt 2 seen by a client following the run."""
    sdk = mesh.sdk
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(
        thread_id,
        mesh.graphs["steps"],
        input={"total": 6, "delay": 1.0},
        stream_mode=["updates", "custom"],
        stream_resumable=True,
    )
    run_id = run["run_id"]
    attempt_2_at: list[float] = []
    seen: list[Part] = []

    async def follow() -> None:
        async for raw in sdk.runs.join_stream(thread_id, run_id, last_event_id="-1"):
            seen.append(Part.of(raw))
            if raw.event == "metadata" and raw.data["attempt"] == 2:
                attempt_2_at.append(time.monotonic())

    following = asyncio.create_task(follow())
    step3 = await wait_recorded(mesh, thread_id, "step-3", attempt=1)
    holder = mesh.worker_with_pid(step3.pid)
    survivor = next(w for w in mesh.workers() if w is not holder)
    holder_id = await worker_id_of(mesh, step3.pid)
    survivor_id = await worker_id_of(mesh, survivor.pid)
    holder.kill()
    killed_at = time.monotonic()
    if report:
        reply = await report_lost(mesh, holder_id, survivor_id)
        assert [(w.worker_id, w.state) for w in reply.workers] == [(survivor_id, "healthy")]
        state = "SELECT state FROM workers WHERE worker_id = $1"
        assert await db_value(mesh, state, holder_id) == "dead"
    await asyncio.wait_for(following, timeout=60)
    final = await sdk.runs.get(thread_id, run_id)
    assert final["status"] == "success", mesh.logs()
    assert attempt_2_at, "no attempt 2"
    failover = attempt_2_at[0] - killed_at

    whole = await replay(sdk, thread_id, run_id)
    assert seen == whole
    assert_gap_free(whole)
    assert attempts_of(whole) == [1, 2]
    entries = await ledger(mesh, thread_id)
    first = [int(e.step.removeprefix("step-")) for e in entries if e.attempt == 1]
    second = [int(e.step.removeprefix("step-")) for e in entries if e.attempt == 2]
    # Steps done before the kill ran once; attempt 2 redid at most the one in flight.
    assert first == list(range(1, first[-1] + 1)) and first[-1] >= 3
    assert second == list(range(second[0], 7)), second
    assert second[0] in (first[-1], first[-1] + 1), "attempt 2 redid steps done before the kill"
    assert {e.pid for e in entries if e.attempt == 2} == {survivor.pid}
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["done"] == [1, 2, 3, 4, 5, 6]
    return failover


async def test_a_child_the_pool_reports_lost_fails_over_within_two_seconds(
    leased_workers: FaultStack,
) -> None:
    failover = await kill_holder_and_time_failover(leased_workers, report=True)
    print(f"failover with the pool's lost report: kill -9 -> attempt 2 first event {failover:.2f}s")
    assert failover < FAILOVER_TARGET, leased_workers.logs()


async def test_a_worker_the_registry_judges_dead_fails_over_before_its_lease(
    quickly_dead_workers: FaultStack,
) -> None:
    failover = await kill_holder_and_time_failover(quickly_dead_workers, report=False)
    print(f"failover by the registry's dead verdict (2.5 s): attempt 2 after {failover:.2f}s")
    # Dead after 2.5 s of silence (plus up to a heartbeat interval and a sweep); the lease
    # would have waited 10 s.
    assert failover < 6.0, quickly_dead_workers.logs()


async def test_without_a_report_a_silent_worker_s_run_waits_for_its_lease(
    leased_workers: FaultStack,
) -> None:
    failover = await kill_holder_and_time_failover(leased_workers, report=False)
    print(f"failover by the lease alone (10 s): kill -9 -> attempt 2 first event {failover:.2f}s")
    # The default registry calls a worker dead after 15 s: the lease ends first.
    assert failover > 6.0
