"""Forged and stale run messages against a whole mesh (issue 11, point 3), through the official
``langgraph-sdk`` for what clients see and nats-py for the attacker.

The attacker has NATS access and publishes to a run's events subject as a worker would, with
the ids it can learn (run, thread, attempt), but without the attempt's lease token: a wrong one,
none, or the token of an attempt that was superseded. What it sends must change neither the
run, nor its stream (``/stream`` and ``/join``), nor any thread, and the real run must finish
as it would have.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
import pytest_asyncio
from faultkit import (
    HTTP_TIMEOUT,
    FaultStack,
    Part,
    assert_gap_free,
    attempts_of,
    fault_stack,
    ledger,
    replay,
    wait_recorded,
)
from langgraph_sdk import get_client
from nats.aio.client import Client
from nats.js import JetStreamContext
from serverkit import GATEWAY_ENV, own_servers, tenant_headers
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.events import RUN_MESSAGE, AttemptStarted, RunEvent, RunOutcome
from agentlist.launcher import Stack

pytestmark = pytest.mark.slow

MARK = "forged-by-aaa-evil"
EVIL = {"done": [666], "forged": MARK}
Message = AttemptStarted | RunEvent | RunOutcome


@pytest.fixture(scope="module")
def private_servers() -> Iterator[Stack]:
    """Servers of this module's own: on the session's, the session stack's scheduler, registry
    and bridge would be part of the mesh under attack."""
    with own_servers() as stack:
        yield stack


@pytest.fixture
def mesh(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    with fault_stack(
        private_servers, tmp_path, log_dir / tmp_path.name, workers=2, env=GATEWAY_ENV
    ) as stack:
        yield stack


@pytest_asyncio.fixture
async def attacker(private_servers: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(private_servers.nats_url)
    yield client
    await client.close()


def tenant_sdk(mesh: FaultStack, tenant: str) -> Any:
    return get_client(url=mesh.api_url, timeout=HTTP_TIMEOUT, headers=tenant_headers(tenant))


async def publish(js: JetStreamContext, message: Message, msg_id: str | None = None) -> None:
    """As an attacker would: any message id it likes (or none)."""
    headers = {"Nats-Msg-Id": msg_id} if msg_id else None
    await js.publish(
        subjects.run_events(message.run_id), message.model_dump_json().encode(), headers=headers
    )


async def forge(
    js: JetStreamContext, run_id: str, thread_id: str, attempt: int, token: str | None
) -> None:
    """Events at every place the run's next messages could take, under the message ids a
    worker would have used before ids were bound to tokens (to take them first), an outcome,
    and a fence taking the run over as the next attempt, with its own event and outcome."""
    common: dict[str, Any] = {"run_id": run_id, "thread_id": thread_id, "token": token}
    for seq in range(1, 40):
        event = RunEvent(**common, attempt=attempt, seq=seq, event="values", data=EVIL)
        await publish(js, event, f"{run_id}:{attempt}:{seq}")
    await publish(js, RunOutcome(**common, attempt=attempt, seq=40, status="success", values=EVIL))
    await publish(js, AttemptStarted(**common, attempt=attempt + 1, worker_id="aaa-evil"))
    await publish(js, RunEvent(**common, attempt=attempt + 1, seq=1, event="values", data=EVIL))
    await publish(
        js, RunOutcome(**common, attempt=attempt + 1, seq=2, status="success", values=EVIL)
    )


async def fence_token(js: JetStreamContext, run_id: str, attempt: int) -> str:
    """The lease token of ``attempt``, as its worker (and any reader of the events stream,
    which NATS permissions keep to the bridges and schedulers) knows it."""
    sub = await js.subscribe(subjects.run_events(run_id), ordered_consumer=True)
    try:
        while True:
            message = RUN_MESSAGE.validate_json((await sub.next_msg(timeout=5)).data)
            if isinstance(message, AttemptStarted) and message.attempt == attempt:
                assert message.token
                return message.token
    finally:
        await sub.unsubscribe()


async def bridged(js: JetStreamContext) -> None:
    """Every message on the events stream has been handled by a bridge."""

    async def backlog() -> tuple[int, int]:
        info = await js.consumer_info(subjects.EVENTS_STREAM, subjects.BRIDGE_CONSUMER)
        return info.num_pending or 0, info.num_ack_pending or 0

    await eventually(backlog, lambda counts: counts == (0, 0), within=30, what="bridged")


def no_forgery_in(parts: list[Part]) -> bool:
    return all(MARK not in repr(part.data) and "aaa-evil" not in repr(part.data) for part in parts)


async def test_forged_and_stale_messages_change_nothing_and_the_run_finishes(
    mesh: FaultStack, attacker: Client
) -> None:
    sdk = tenant_sdk(mesh, f"victim-{uuid.uuid4().hex[:6]}")
    js = attacker.jetstream()
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(
        thread_id,
        mesh.graphs["steps"],
        input={"total": 5, "delay": 0.8},
        stream_mode=["values", "custom"],
        stream_resumable=True,
    )
    run_id = run["run_id"]
    step2 = await wait_recorded(mesh, thread_id, "step-2", attempt=1)

    # While attempt 1 runs: a wrong token, then none.
    await forge(js, run_id, thread_id, 1, "guessed-token")
    await forge(js, run_id, thread_id, 1, None)
    await bridged(js)
    assert (await sdk.runs.get(thread_id, run_id))["status"] == "running"
    assert no_forgery_in(await collect_until_now(sdk, thread_id, run_id))

    # Failover: attempt 1's worker is lost, attempt 2 takes the run over elsewhere.
    mesh.worker_with_pid(step2.pid).kill()
    await wait_recorded(mesh, thread_id, "step-3", attempt=2, within=45)
    stale = await fence_token(js, run_id, 1)
    # Attempt 1's own token: for attempt 1 (superseded) and passed off as attempt 2's.
    await forge(js, run_id, thread_id, 1, stale)
    await forge(js, run_id, thread_id, 2, stale)

    finished: Any = await eventually(
        lambda: sdk.runs.get(thread_id, run_id),
        lambda found: found["status"] in ("success", "error"),
        within=60,
        what="the run finished",
    )
    assert finished["status"] == "success", mesh.logs()
    state = await sdk.threads.get_state(thread_id)
    assert state["values"]["done"] == [1, 2, 3, 4, 5]
    thread = await sdk.threads.get(thread_id)
    assert thread["status"] == "idle" and thread["values"]["done"] == [1, 2, 3, 4, 5]

    whole = await replay(sdk, thread_id, run_id)  # /join from the start
    assert_gap_free(whole)
    assert attempts_of(whole) == [1, 2]
    assert no_forgery_in(whole)
    last_values = [part.data for part in whole if part.event == "values"][-1]
    assert last_values["done"] == [1, 2, 3, 4, 5]
    steps = [entry.step for entry in await ledger(mesh, thread_id)]
    assert steps[-1] == "step-5"


async def collect_until_now(sdk: Any, thread_id: str, run_id: str) -> list[Part]:
    """What ``/join`` shows of a running run so far: its stream up to the newest entry."""
    parts: list[Part] = []
    async for raw in sdk.runs.join_stream(thread_id, run_id, last_event_id="-1"):
        parts.append(Part.of(raw))
        if raw.event == "custom" and raw.data.get("step", 0) >= 2:
            break
    return parts


async def test_a_forged_fence_and_outcome_cannot_touch_another_tenants_thread(
    mesh: FaultStack, attacker: Client
) -> None:
    suffix = uuid.uuid4().hex[:6]
    victim, intruder = tenant_sdk(mesh, f"victim-{suffix}"), tenant_sdk(mesh, f"intruder-{suffix}")
    js = attacker.jetstream()

    async def finished_run(sdk: Any, thread_id: str) -> str:
        run = await sdk.runs.create(thread_id, mesh.graphs["steps"], input={"total": 1, "delay": 0})
        await sdk.runs.join(thread_id, run["run_id"])
        return str(run["run_id"])

    victim_thread = (await victim.threads.create())["thread_id"]
    victim_run = await finished_run(victim, victim_thread)
    own_thread = (await intruder.threads.create())["thread_id"]
    own_run = await finished_run(intruder, own_thread)
    await bridged(js)
    before = (
        await victim.threads.get(victim_thread),
        await victim.threads.get_state(victim_thread),
        await victim.runs.list(victim_thread),
    )
    assert before[0]["values"]["done"] == [1]

    # A run of no one, the intruder's own run, and the victim's run: each named with the
    # victim's thread, with a fence of the attacker's and an outcome carrying its values.
    for run_id, attempt in ((str(uuid.uuid4()), 1), (own_run, 2), (victim_run, 2)):
        common: dict[str, Any] = {
            "run_id": run_id,
            "thread_id": victim_thread,
            "attempt": attempt,
            "token": "attacker-chosen",
        }
        await publish(js, AttemptStarted(**common, worker_id="aaa-evil"))
        await publish(js, RunOutcome(**common, seq=1, status="success", values=EVIL))
        await publish(js, RunOutcome(**common, seq=1, status="error", values=EVIL), f"{run_id}:x")
    await bridged(js)

    after = (
        await victim.threads.get(victim_thread),
        await victim.threads.get_state(victim_thread),
        await victim.runs.list(victim_thread),
    )
    assert after == before
    assert no_forgery_in(await replay(victim, victim_thread, victim_run))
    # The victim's thread still runs its own runs as before.
    await finished_run(victim, victim_thread)
    assert (await victim.threads.get(victim_thread))["values"]["done"] == [1, 2]
