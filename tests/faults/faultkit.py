"""Helpers of the worker and bridge fault tests: a stack of one test's own services serving
``tests/graphs/faults.py`` under graph ids no other stack serves, and what a client sees.

A stack runs on servers of its test module's own (``serverkit.own_servers``): every service
on the same servers is part of the same mesh, so on the session's servers the session stack's
scheduler, registry and bridge would join every fault mesh. Graph ids of its own keep each
stack's runs on its own workers, so every process a test kills or freezes is its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
from langgraph_sdk import get_client
from serverkit import FAST_TIMINGS, services_on
from waitkit import eventually

from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess

GRAPHS_FOLDER = Path(__file__).resolve().parents[1] / "graphs"
sys.path.insert(0, str(GRAPHS_FOLDER))  # the ledger's module, shared with the graphs
import effect_ledger  # noqa: E402

FAULT_GRAPHS = GRAPHS_FOLDER / "faults.py"
GRAPHS = ("steps", "bursts", "raises", "kills_worker", "sleepy")

FAULT_TIMINGS = {**FAST_TIMINGS, "AGENTLIST_SCHEDULER_POLL_INTERVAL": "0.25"}
HTTP_TIMEOUT = (5.0, 30.0, 30.0, 5.0)
"""Connect, read, write, pool: an SSE stream sends a heartbeat every 5 s, so 30 s of silence
is a hang."""


def write_config(folder: Path) -> tuple[Path, dict[str, str]]:
    """A ``langgraph.json`` serving every fault graph under an id unique to this stack (with
    the graphs' folder as a dependency, for the ledger's module)."""
    suffix = uuid.uuid4().hex[:8]
    ids = {name: f"{name}_{suffix}" for name in GRAPHS}
    config = {
        "dependencies": [str(GRAPHS_FOLDER)],
        "graphs": {ids[name]: f"{FAULT_GRAPHS}:{name}" for name in GRAPHS},
    }
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


def fault_services(
    servers: Stack,
    folder: Path,
    log_dir: Path,
    env: Mapping[str, str] | None,
    **workers: object,
) -> tuple[Stack, Path, dict[str, str]]:
    """The fault graphs under ids of their own, and a stack of services on ``servers`` with
    ``env`` (``workers``: the stack's ``workers`` or ``pool`` option), not started yet; the
    ledger's table is created."""
    config, ids = write_config(folder / "graphs")
    stack = services_on(
        servers,
        folder / "data",
        log_dir,
        graphs_config=config,
        env={**FAULT_TIMINGS, **(env or {})},
        **workers,
    )
    create_ledger(stack)
    return stack, config, ids


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
    stack, config, ids = fault_services(servers, folder, log_dir, env, workers=workers)
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


@dataclass(frozen=True)
class Effect:
    """One execution of a step, as the graph recorded it (``effect_ledger.py``)."""

    run_id: str
    thread_id: str
    step: str
    attempt: int
    pid: int


EFFECTS = """
SELECT run_id::text, thread_id::text, step, attempt, pid
  FROM test_ledger.effects
 WHERE ($1::uuid[] IS NULL OR run_id = ANY($1)) AND ($2::uuid IS NULL OR thread_id = $2)
 ORDER BY recorded_at, effect_id
"""


def create_ledger(stack: Stack) -> None:
    """The ledger's table, before any graph records into it: after the owner's migration,
    which makes the worker's role it is granted to."""
    stack.migrate()
    with psycopg.connect(stack.database_url) as conn:
        conn.execute(effect_ledger.SCHEMA)


async def effects(
    dsn: str, *, runs: Collection[str] | None = None, thread_id: str | None = None
) -> list[Effect]:
    """Every execution the given runs (or the thread's runs) recorded, oldest first."""
    run_ids = [uuid.UUID(run_id) for run_id in runs] if runs is not None else None
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(EFFECTS, run_ids, uuid.UUID(thread_id) if thread_id else None)
    finally:
        await conn.close()
    return [Effect(*row) for row in rows]


async def ledger(mesh: FaultStack, thread_id: str) -> list[Effect]:
    """Every step execution the thread's runs recorded, oldest first."""
    return await effects(mesh.stack.database_url, thread_id=thread_id)


def counts(entries: Sequence[Effect]) -> Counter[str]:
    return Counter(entry.step for entry in entries)


async def wait_recorded(
    mesh: FaultStack, thread_id: str, step: str, *, within: float = 30, attempt: int | None = None
) -> Effect:
    """The first execution of ``step`` (by ``attempt``, if given)."""

    def match(entries: list[Effect]) -> bool:
        return any(_is(entry, step, attempt) for entry in entries)

    entries = await eventually(
        lambda: ledger(mesh, thread_id), match, within=within, what=f"{step} recorded"
    )
    return next(entry for entry in entries if _is(entry, step, attempt))


def _is(entry: Effect, step: str, attempt: int | None) -> bool:
    return entry.step == step and (attempt is None or entry.attempt == attempt)


def replays_per_run(
    found: Sequence[Effect],
    attempts: Mapping[str, int],
    steps: Collection[str],
    *,
    per_retry: int = 1,
    bound: int | None = None,
) -> Counter[str]:
    """Checks the ledger of runs that all ended in success (``run_id -> its last attempt``),
    each made of ``steps``, and returns how many re-executions each run had (runs with none
    left out).

    Every step of every run ran, and none twice in one attempt. Each retry explains at most
    ``per_retry`` re-executions: one where the attempt it replaced was interrupted (a killed
    worker's: the next resumes from the last checkpoint, re-running the step in flight); more
    where that attempt lived on until it learnt it was replaced (a lease that lapsed while its
    worker ran). ``bound``, if given, caps a run's re-executions: what the faults a test caused
    explain.
    """
    by_run: dict[str, list[Effect]] = {run_id: [] for run_id in attempts}
    for effect in found:
        by_run[effect.run_id].append(effect)
    replays: Counter[str] = Counter()
    for run_id, mine in by_run.items():
        per_step = Counter(effect.step for effect in mine)
        assert set(per_step) == set(steps), f"run {run_id} ran {dict(per_step)}, not {steps}"
        executions = {(effect.step, effect.attempt) for effect in mine}
        assert len(executions) == len(mine), f"run {run_id}: a step ran twice in one attempt"
        extra = len(mine) - len(steps)
        explained = (attempts[run_id] - 1) * per_retry
        if bound is not None:
            explained = min(explained, bound)
        assert extra <= explained, (
            f"run {run_id}, attempt {attempts[run_id]}, re-ran {extra} steps: {mine}"
        )
        if extra:
            replays[run_id] = extra
    return replays


# -- streams ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    event: str
    data: Any
    id: str | None

    @classmethod
    def of(cls, part: Any) -> Part:
        return cls(part.event, part.data, part.id)


async def follow_until_step(sdk: Any, thread_id: str, run_id: str, step: int) -> list[Part]:
    """What a client following the run live from its start saw, up to the ``custom`` event of
    ``step`` (then it leaves)."""
    seen: list[Part] = []
    async with aclosing(sdk.runs.join_stream(thread_id, run_id, last_event_id="-1")) as live:
        async for raw in live:
            seen.append(Part.of(raw))
            if raw.event == "custom" and raw.data["step"] == step:
                break
    return seen


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
