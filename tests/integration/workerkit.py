"""What the worker integration tests share (Python and TypeScript workers speak the same
protocol): a fake registry, dispatches, reading a run's messages back from JetStream."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from waitkit import eventually

from agentlist.contracts import (
    RUN_MESSAGE,
    DispatchReply,
    Heartbeat,
    HeartbeatReply,
    RegisterReply,
    RunCancel,
    RunDispatch,
    RunEvent,
    RunOutcome,
    StateReply,
    WorkerControl,
    WorkerControlReply,
    WorkerRegister,
    subjects,
)
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.events import new_lease_token
from agentlist.launcher.jsworker import worker_js_dir
from agentlist.launcher.process import ChildProcess

T = TypeVar("T")


@dataclass
class FakeRegistry:
    """Answers registrations and heartbeats; a test may queue special heartbeat replies."""

    registrations: list[WorkerRegister] = field(default_factory=list)
    heartbeats: list[Heartbeat] = field(default_factory=list)
    scripted: list[HeartbeatReply] = field(default_factory=list)
    heartbeat_interval: float = 0.3

    async def on_register(self, msg: Msg) -> None:
        self.registrations.append(WorkerRegister.model_validate_json(msg.data))
        reply = RegisterReply(accepted=True, heartbeat_interval=self.heartbeat_interval)
        await msg.respond(reply.model_dump_json().encode())

    async def on_heartbeat(self, msg: Msg) -> None:
        self.heartbeats.append(Heartbeat.model_validate_json(msg.data))
        reply = self.scripted.pop(0) if self.scripted else HeartbeatReply(known=True)
        await msg.respond(reply.model_dump_json().encode())


def unless_exited(child: ChildProcess, ready: Callable[[], T]) -> Callable[[], T]:
    """``ready``, as a check for :func:`eventually` that fails at once if ``child`` exited:
    a worker that is gone will not get ready."""

    def check() -> T:
        if not child.alive():
            raise AssertionError(f"worker exited:\n{child.log_tail()}")
        return ready()

    return check


def new_dispatch(graph_id: str, thread_id: str | None = None, **params: Any) -> RunDispatch:
    return RunDispatch.model_validate(
        {
            "run_id": str(uuid.uuid4()),
            "thread_id": thread_id or str(uuid.uuid4()),
            "assistant_id": str(uuid.uuid4()),
            "graph_id": graph_id,
            "tenant_id": "default",
            "attempt": params.pop("attempt", 1),
            "token": params.pop("token", new_lease_token()),
            "resume_from_checkpoint": params.pop("resume_from_checkpoint", False),
            "params": params,
        }
    )


async def send(nc: Client, dispatch: RunDispatch, worker_id: str) -> DispatchReply:
    answer = await nc.request(
        subjects.worker_dispatch(DEFAULT_TEAM, worker_id),
        dispatch.model_dump_json().encode(),
        timeout=5,
    )
    return DispatchReply.model_validate_json(answer.data)


@dataclass
class RunReader:
    """Everything published on one run's subject, read through an ephemeral consumer."""

    messages: list[Any] = field(default_factory=list)
    msg_ids: list[str] = field(default_factory=list)

    @property
    def outcomes(self) -> list[RunOutcome]:
        return [m for m in self.messages if isinstance(m, RunOutcome)]

    @property
    def events(self) -> list[RunEvent]:
        return [m for m in self.messages if isinstance(m, RunEvent)]


async def read_run(
    nc: Client, run_id: str, *, until_outcome: bool = True, seconds: float = 20
) -> RunReader:
    reader = RunReader()
    subscription = await nc.jetstream().subscribe(
        subjects.run_events(run_id), ordered_consumer=True
    )
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while asyncio.get_running_loop().time() < deadline:
            try:
                msg = await subscription.next_msg(timeout=0.2)
            except nats.errors.TimeoutError:
                if until_outcome:
                    continue
                break
            reader.messages.append(RUN_MESSAGE.validate_json(msg.data))
            reader.msg_ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
            if until_outcome and reader.outcomes:
                break
    finally:
        await subscription.unsubscribe()
    return reader


async def first_event(nc: Client, run_id: str) -> None:
    subscription = await nc.jetstream().subscribe(
        subjects.run_events(run_id), ordered_consumer=True
    )
    try:
        await subscription.next_msg(timeout=10)
    finally:
        await subscription.unsubscribe()


async def run_event(
    nc: Client, run_id: str, accept: Callable[[dict[str, Any]], bool], seconds: float = 20
) -> RunEvent:
    """The run's first event whose data ``accept`` takes (a run that has made some progress)."""
    subscription = await nc.jetstream().subscribe(
        subjects.run_events(run_id), ordered_consumer=True
    )
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            message = RUN_MESSAGE.validate_json((await subscription.next_msg(timeout=left)).data)
            if isinstance(message, RunEvent) and isinstance(message.data, dict):
                if accept(message.data):
                    return message
            elif isinstance(message, RunOutcome):
                raise AssertionError(f"run {run_id} ended first: {message.status}")
    finally:
        await subscription.unsubscribe()
    raise AssertionError(f"no such event of run {run_id} within {seconds:g}s")


async def dropped(registry: FakeRegistry, worker_id: str, run_id: str, since: int) -> None:
    """Until a heartbeat of the worker, after the first ``since`` heartbeats, no longer holds
    the run: the worker let go of it (and published whatever it would have before)."""
    await eventually(
        lambda: any(
            h.worker_id == worker_id and run_id not in {r.run_id for r in h.runs}
            for h in registry.heartbeats[since:]
        ),
        within=10,
        what=f"a heartbeat of {worker_id} without run {run_id}",
    )


async def inflight(nc: Client, worker_id: str) -> int:
    ping = WorkerControl(action="ping").model_dump_json().encode()
    answer = await nc.request(subjects.worker_control(DEFAULT_TEAM, worker_id), ping, timeout=5)
    return WorkerControlReply.model_validate_json(answer.data).inflight


async def cancel(nc: Client, run_id: str, action: str) -> None:
    message = RunCancel.model_validate({"run_id": run_id, "action": action})
    await nc.publish(subjects.run_cancel(run_id), message.model_dump_json().encode())


async def state_request(nc: Client, graph_id: str, request: Any) -> StateReply:
    answer = await nc.request(
        subjects.graph_state(graph_id), request.model_dump_json().encode(), timeout=10
    )
    return StateReply.model_validate_json(answer.data)


def assert_well_formed(
    reader: RunReader, run_id: str, attempt: int = 1, token: str | None = None
) -> None:
    """``token``: the attempt's lease token, which every message must carry."""
    seqs = [m.seq for m in reader.messages]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert len(reader.outcomes) == 1 and reader.messages[-1] is reader.outcomes[0]
    assert reader.msg_ids == [subjects.event_msg_id(run_id, attempt, s, token) for s in seqs]
    assert all(m.attempt == attempt and m.run_id == run_id for m in reader.messages)
    assert all(m.token == token for m in reader.messages)


async def idle(nc: Client, worker_id: str) -> None:
    """Until the worker holds no run: it forgets one just after JetStream stored its outcome,
    which a test may have read already."""
    await eventually(
        lambda: inflight(nc, worker_id),
        lambda held: held == 0,
        within=5,
        what=f"{worker_id} holding no run",
    )


def run_store_probe(probe: Path, argument: str, database_url: str) -> Any:
    """Run one of the JS worker's store probes (``test/fixtures/*Probe.ts``) under node on
    ``database_url``; what it printed last, as JSON."""
    node = shutil.which("node")
    assert node is not None, "node is needed for the JS worker's store probes"
    finished = subprocess.run(
        [node, "--import", "tsx", str(probe), argument],
        cwd=worker_js_dir(),
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr.decode()
    return orjson.loads(finished.stdout.splitlines()[-1])
