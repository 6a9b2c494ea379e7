"""Bridges killed mid-run, and streams past their retention, through the official
``langgraph-sdk`` (issue 4, scenario 3 and stream retention).

This module runs on servers of its own: every bridge consumes the one shared JetStream
consumer, so on the session's servers another stack's bridge would carry this module's runs
(and apply its own retention); here the bridges a test starts and kills are the only ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from faultkit import (
    FaultStack,
    Part,
    assert_gap_free,
    attempts_of,
    collect,
    fault_stack,
    ledger,
    replay,
)
from langgraph_sdk.errors import APIStatusError
from serverkit import own_servers
from waitkit import eventually

from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess

pytestmark = pytest.mark.slow

EVENTS = 1000
# Messages a killed bridge held come back to a live one after this long.
BRIDGE_ENV = {"AGENTLIST_BRIDGE_ACK_WAIT_SECONDS": "3"}


@pytest.fixture(scope="module")
def private_servers() -> Iterator[Stack]:
    with own_servers() as stack:
        yield stack


@pytest.fixture
def mesh(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    folder = log_dir / tmp_path.name
    with fault_stack(private_servers, tmp_path, folder, workers=1, env=BRIDGE_ENV) as stack:
        yield stack


def bridge_ready(child: ChildProcess) -> bool:
    return "bridging run events" in child.log_tail(50)


async def start_bridge(mesh: FaultStack) -> ChildProcess:
    child = mesh.stack.start_service("bridge")
    await eventually(
        lambda: asyncio.to_thread(bridge_ready, child), bool, within=30, what=f"{child.name} up"
    )
    return child


class LiveClient:
    """Follows a run's stream as it is made, from its creation on."""

    def __init__(self, mesh: FaultStack, thread_id: str) -> None:
        self.parts: list[Part] = []
        self._task = asyncio.create_task(self._follow(mesh, thread_id))

    async def _follow(self, mesh: FaultStack, thread_id: str) -> None:
        async for raw in mesh.sdk.runs.stream(
            thread_id,
            mesh.graphs["bursts"],
            input={"count": EVENTS, "pace": 0.02},
            stream_mode="custom",
            stream_resumable=True,
        ):
            self.parts.append(Part.of(raw))

    def customs(self) -> int:
        return sum(1 for part in self.parts if part.event == "custom")

    async def until(self, count: int) -> None:
        async def seen() -> int:
            if self._task.done():
                self._task.result()
            return self.customs()

        await eventually(seen, lambda n: n >= count, within=30, what=f"{count} events seen")

    async def end(self, within: float) -> list[Part]:
        await asyncio.wait_for(self._task, within)
        return self.parts


async def assert_every_event_once(mesh: FaultStack, thread_id: str, live: list[Part]) -> None:
    assert live[0].event == "metadata"
    run_id = live[0].data["run_id"]
    seen = [p.data["i"] for p in live if p.event == "custom"]
    missing = sorted(set(range(EVENTS)) - set(seen))
    repeated = sorted(i for i in set(seen) if seen.count(i) > 1)
    assert seen == list(range(EVENTS)), f"missing {missing}, repeated {repeated}\n{mesh.logs()}"
    assert_gap_free(live)
    # A client resuming from the start gets the same events, with the same ids.
    assert await replay(mesh.sdk, thread_id, run_id) == live
    run = await mesh.sdk.runs.get(thread_id, run_id)
    assert run["status"] == "success"
    state = await mesh.sdk.threads.get_state(thread_id)
    assert state["values"]["emitted"] == EVENTS
    # A bridge's death never makes the run itself execute again (the effect ledger).
    assert [(e.run_id, e.step, e.attempt) for e in await ledger(mesh, thread_id)] == [
        (run_id, "burst", 1)
    ]


async def test_a_bridge_killed_mid_run_and_restarted_loses_and_repeats_nothing(
    mesh: FaultStack,
) -> None:
    (bridge,) = mesh.stack.services_named("bridge")
    (scheduler,) = mesh.stack.services_named("scheduler")
    thread_id = (await mesh.sdk.threads.create())["thread_id"]
    client = LiveClient(mesh, thread_id)
    await client.until(300)
    bridge.kill()
    killed_at = time.monotonic()
    run_id = client.parts[0].data["run_id"]
    # With no bridge, the worker finishes and its lease lapses: the run is over (its outcome
    # is in JetStream), so the scheduler must wait for a bridge, not retry it.
    await eventually(
        lambda: asyncio.to_thread(scheduler.log_tail, 100),
        lambda log: f"run {run_id} has ended; its outcome waits for a bridge" in log,
        within=20,
        what="the scheduler keeps the finished run",
    )
    stalled = client.customs()
    assert stalled < EVENTS, "the kill must land mid-run"
    await start_bridge(mesh)
    live = await client.end(within=45)
    print(f"bridge down {time.monotonic() - killed_at:.2f}s from event {stalled}: stream complete")
    await assert_every_event_once(mesh, thread_id, live)
    assert attempts_of(live) == [1], "a finished run was retried"


async def test_one_of_two_bridges_killed_mid_run_loses_and_repeats_nothing(
    mesh: FaultStack,
) -> None:
    (first,) = mesh.stack.services_named("bridge")
    await start_bridge(mesh)
    thread_id = (await mesh.sdk.threads.create())["thread_id"]
    client = LiveClient(mesh, thread_id)
    await client.until(300)
    first.kill()
    killed_at = time.monotonic()
    live = await client.end(within=45)
    print(f"one of two bridges killed: stream complete {time.monotonic() - killed_at:.2f}s later")
    await assert_every_event_once(mesh, thread_id, live)


# -- retention ---------------------------------------------------------------------------------


@pytest.fixture
def short_retention(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    env = {"AGENTLIST_STREAM_RETENTION_SECONDS": "2"}
    with fault_stack(private_servers, tmp_path, log_dir / tmp_path.name, workers=1, env=env) as s:
        yield s


async def test_a_stream_past_its_retention_is_refused_not_replayed_empty(
    short_retention: FaultStack,
) -> None:
    mesh, sdk = short_retention, short_retention.sdk
    thread_id = (await sdk.threads.create())["thread_id"]
    original = await collect(
        sdk.runs.stream(
            thread_id,
            mesh.graphs["bursts"],
            input={"count": 20},
            stream_mode="custom",
            stream_resumable=True,
        )
    )
    run_id = original[0].data["run_id"]
    assert [p.data["i"] for p in original if p.event == "custom"] == list(range(20))

    async def replayed() -> list[Part] | APIStatusError:
        try:
            return await replay(sdk, thread_id, run_id)
        except APIStatusError as exc:
            return exc

    # Until it expires a replay is whole; then it is refused, never empty or cut.
    answers: list[list[Part] | APIStatusError] = []

    async def next_answer() -> list[Part] | APIStatusError:
        answers.append(await replayed())
        return answers[-1]

    gone = await eventually(
        next_answer, lambda a: isinstance(a, APIStatusError), within=20, what="410", every=0.2
    )
    assert all(answer == original for answer in answers[:-1])
    assert isinstance(gone, APIStatusError) and gone.status_code == 410

    async with httpx.AsyncClient(base_url=mesh.api_url, timeout=10) as http:
        for last_event_id in ("-1", original[5].id):
            response = await http.get(
                f"/threads/{thread_id}/runs/{run_id}/stream",
                headers={"Last-Event-ID": str(last_event_id)},
            )
            assert response.status_code == 410
            assert "expired" in response.json()["detail"]
    # What the error says to do works: the thread's state is still there.
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["emitted"] == 20
    assert (await sdk.runs.get(thread_id, run_id))["status"] == "success"
