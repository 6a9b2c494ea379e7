"""Helpers of the worker and bridge fault tests: a stack of one test's own services serving
``tests/graphs/faults.py`` under graph ids no other stack serves, and what a client sees.

A stack runs on the session's servers (or a module's private ones where a mesh-wide setting
must differ from the session's). Other stacks on the same servers are the same mesh: their
schedulers may place this stack's runs, but only on this stack's workers, the only ones that
serve its graphs; so every process a test kills or freezes is its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client
from serverkit import FAST_TIMINGS, services_on
from waitkit import eventually

from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess

FAULT_GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "faults.py"
GRAPHS = ("steps", "bursts", "raises", "kills_worker", "sleepy")

FAULT_TIMINGS = {**FAST_TIMINGS, "AGENTLIST_SCHEDULER_POLL_INTERVAL": "0.25"}
HTTP_TIMEOUT = (5.0, 30.0, 30.0, 5.0)
"""Connect, read, write, pool: an SSE stream sends a heartbeat every 5 s, so 30 s of silence
is a hang."""


def write_config(folder: Path) -> tuple[Path, dict[str, str]]:
    """A ``langgraph.json`` serving every fault graph under an id unique to this stack."""
    suffix = uuid.uuid4().hex[:8]
    ids = {name: f"{name}_{suffix}" for name in GRAPHS}
    config = {"graphs": {ids[name]: f"{FAULT_GRAPHS}:{name}" for name in GRAPHS}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path, ids


@dataclass
class FaultStack:
    stack: Stack
    graphs: dict[str, str]
    """Short name in ``faults.py`` -> this stack's graph id."""
    config: Path
    sdk: Any

    @property
    def api_url(self) -> str:
        return self.stack.api_url

    def workers(self) -> list[ChildProcess]:
        return [child for child in self.stack.services_named("worker")]

    def worker_with_pid(self, pid: int) -> ChildProcess:
        found = [child for child in self.workers() if child.pid == pid]
        assert found, f"pid {pid} is not a worker of this stack"
        return found[0]

    def start_worker(self, env: Mapping[str, str] | None = None) -> ChildProcess:
        return self.stack.start_worker(self.config, env=env)

    def logs(self) -> str:
        return "\n".join(f"--- {c.name}\n{c.log_tail(25)}" for c in self.stack.services)


@contextlib.contextmanager
def fault_stack(
    servers: Stack,
    folder: Path,
    log_dir: Path,
    *,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Iterator[FaultStack]:
    """api, registry, scheduler, bridge and ``workers`` workers, all with ``env``."""
    config, ids = write_config(folder / "graphs")
    stack = services_on(
        servers,
        folder / "data",
        log_dir,
        graphs_config=config,
        workers=workers,
        env={**FAULT_TIMINGS, **(env or {})},
    )
    try:
        stack.start_services()
        sdk = get_client(url=stack.api_url, timeout=HTTP_TIMEOUT, headers=headers)
        yield FaultStack(stack, ids, config, sdk)
    finally:
        for child in stack.services:
            child.signal(signal.SIGCONT)  # a frozen process could not stop
        stack.stop()


# -- waiting ----------------------------------------------------------------------------------


async def wait_exit(child: ChildProcess, within: float) -> int:
    await eventually(
        lambda: not child.alive(),
        within=within,
        what=f"{child.name} exited",
        context=child.log_tail,
    )
    code = child.popen.returncode
    assert code is not None
    return code


# -- the effect ledger ------------------------------------------------------------------------


async def ledger(sdk: Any, thread_id: str) -> list[dict[str, Any]]:
    """Every node execution the thread's runs recorded, oldest first (through ``/store``)."""
    found = await sdk.store.search_items(("ledger", thread_id), limit=1000)
    items = sorted(found["items"], key=lambda item: item["created_at"])
    return [item["value"] for item in items]


def counts(entries: Sequence[Mapping[str, Any]]) -> Counter[str]:
    return Counter(entry["label"] for entry in entries)


async def wait_recorded(
    sdk: Any, thread_id: str, label: str, *, within: float = 30, attempt: int | None = None
) -> dict[str, Any]:
    """The first ledger entry ``label`` (of ``attempt``, if given)."""

    def match(entries: list[dict[str, Any]]) -> bool:
        return any(_is(entry, label, attempt) for entry in entries)

    entries = await eventually(
        lambda: ledger(sdk, thread_id), match, within=within, what=f"{label} recorded"
    )
    return next(entry for entry in entries if _is(entry, label, attempt))


def _is(entry: Mapping[str, Any], label: str, attempt: int | None) -> bool:
    return entry["label"] == label and (attempt is None or entry["attempt"] == attempt)


# -- streams ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    event: str
    data: Any
    id: str | None

    @classmethod
    def of(cls, part: Any) -> Part:
        return cls(part.event, part.data, part.id)


async def collect(parts: AsyncIterator[Any]) -> list[Part]:
    return [Part.of(part) async for part in parts]


async def replay(sdk: Any, thread_id: str, run_id: str) -> list[Part]:
    """The run's whole stream, as a client resuming from ``Last-Event-ID: -1`` gets it."""
    return await collect(sdk.runs.join_stream(thread_id, run_id, last_event_id="-1"))


def attempts_of(parts: Sequence[Part]) -> list[int]:
    return [part.data["attempt"] for part in parts if part.event == "metadata"]


def entry_key(entry_id: str | None) -> tuple[int, int]:
    """A Redis entry id (``<ms>-<n>``) as a sortable pair."""
    assert entry_id, "a resumable stream's events carry ids"
    ms, _, n = entry_id.partition("-")
    return int(ms), int(n or 0)


def assert_gap_free(parts: Sequence[Part]) -> None:
    """Ids strictly increasing (in order, none twice)."""
    keys = [entry_key(part.id) for part in parts]
    assert keys == sorted(set(keys)), "event ids repeat or go back"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
