"""``agentlist pool``: the worker processes of one ``langgraph.json``, as many as the load needs.

The pool starts its children (Python and TypeScript workers alike: a config mixing both is run
as one lane per language, each sized on its own graphs' load), names each with a worker id of
its choosing, and every ``report_interval`` seconds tells the registry what it runs and wants
(``registry.pool.<team>``). The answer, the backlog of its graphs and the state of its
children, drives the decisions of :mod:`agentlist.launcher.pool_policy`: grow when the backlog
exceeds the free slots, drain the idlest children after a cooldown without one.

A child that exits unasked is replaced after a pause that grows while children keep failing,
and is reported at once as ``lost``, so that the registry sends its runs to their next attempt
without waiting for their leases. A child asked to drain (SIGTERM: both workers finish their
runs first) that exits is no crash. A pool stopped by SIGTERM or SIGINT drains its children
first; a pool killed takes them with it (``PR_SET_PDEATHSIG`` with SIGKILL), as the launcher
kills a worker that outlasts its patience: their runs resume on their next attempt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Self

from nats.aio.client import Client
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentlist.contracts import subjects
from agentlist.contracts.access import team_of_user
from agentlist.contracts.workers import PoolReply, PoolReport
from agentlist.core import nats as mesh_nats
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.core.nats import url_user
from agentlist.core.retry import Backoff, Transient, retry, sleep_unless
from agentlist.core.settings import ProcessSettings
from agentlist.launcher.graphs import Language, split_by_language
from agentlist.launcher.jsworker import start_js_worker
from agentlist.launcher.pool_policy import (
    Child,
    ChildState,
    Decision,
    Limits,
    Load,
    decide,
    default_maximum,
    initial_target,
    restart_pause,
)
from agentlist.launcher.process import ChildProcess, spawn

logger = logging.getLogger("agentlist.launcher.pool")  # not __main__, run with -m

_UNANSWERED: Final[Transient] = (*mesh_nats.TRANSIENT, ValidationError)
_REQUEST_TIMEOUT = 1.0
_MOST_REPORT_PAUSE = 5.0
"""The longest pause between reports nobody answers (a registry of an older version, say)."""
_WATCH_INTERVAL = 0.05
_LANE_SUFFIX: Mapping[Language, str] = {"python": "py", "javascript": "js"}
_STATES: Mapping[str, ChildState] = {
    "healthy": "healthy",
    "unhealthy": "unhealthy",
    "draining": "draining",
    "dead": "dead",
}


def new_pool_id() -> str:
    host = "".join(c if c.isalnum() or c in "_-" else "-" for c in socket.gethostname())
    return f"pool-{host.strip('-')[:24] or 'host'}-{secrets.token_hex(3)}"


class PoolSettings(ProcessSettings):
    """``AGENTLIST_POOL_<FIELD>`` (``AGENTLIST_POOL_MAXIMUM``...) or the command's flags, beside
    the seed's ``NATS_URL`` and ``DATABASE_URL`` (the team's, which the children get too)."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_POOL_")

    config: Path = Path("langgraph.json")
    minimum: int = Field(default=1, ge=0)
    maximum: int = Field(default_factory=lambda: default_maximum(os.cpu_count()), ge=1)
    capacity: int = Field(default=10, ge=1)
    """Run slots of each child (its ``AGENTLIST_WORKER_CAPACITY``)."""
    cooldown: float = Field(default=30.0, ge=0)
    """Seconds without a backlog before the pool drains a child."""
    pool_id: str = Field(default_factory=new_pool_id, pattern=r"^[A-Za-z0-9_-]+$")
    report_interval: float = Field(default=0.5, gt=0)
    stop_timeout: float = Field(default=90.0, gt=0)
    """How long the children get to drain when the pool stops, before they are killed."""
    worker_executable: Path | None = None
    """An ``agentlist-worker`` installed on its own; None: this interpreter's."""

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.minimum > self.maximum:
            raise ValueError(f"--min {self.minimum} is above --max {self.maximum}")
        return self

    @property
    def team(self) -> str:
        return team_of_user(url_user(self.nats_url))

    @property
    def limits(self) -> Limits:
        return Limits(self.minimum, self.maximum, self.capacity, self.cooldown)


class DevPoolSettings(BaseSettings):
    """``AGENTLIST_DEV_POOL_MAX``: how far ``agentlist dev``'s pool may grow (``--pool-max``)."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_DEV_", extra="ignore", frozen=True)

    pool_max: int = Field(default_factory=lambda: default_maximum(os.cpu_count()), ge=1)


@dataclass
class PoolChild:
    worker_id: str
    process: ChildProcess
    started: float


@dataclass
class Lane:
    """The children serving one language's graphs of the config, and their decisions."""

    language: Language
    config: Path
    graphs: list[str]
    pool_id: str
    limits: Limits
    children: dict[str, PoolChild] = field(default_factory=dict)
    """Live children not asked to drain."""
    draining: dict[str, PoolChild] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    """Exited unasked since the last answered report."""
    target: int = 0
    reason: str = "starting"
    calm_since: float | None = None
    restart_at: float = 0.0
    pause: float | None = None
    started: int = 0

    def reap(self, now: float) -> bool:
        """Forget the children that exited; True if any did."""
        exited = False
        for worker_id, child in list(self.children.items()):
            if child.process.alive():
                continue
            exited = True
            del self.children[worker_id]
            self.lost.append(worker_id)
            self.pause = restart_pause(self.pause, now - child.started)
            self.restart_at = now + self.pause
            logger.warning(
                "%s: worker %s exited with %s; replacing it in %gs",
                self.pool_id,
                worker_id,
                child.process.popen.returncode,
                self.pause,
            )
            child.process.stop()  # closes its log
        for worker_id, child in list(self.draining.items()):
            if child.process.alive():
                continue
            exited = True
            del self.draining[worker_id]
            code = child.process.popen.returncode
            # A child still loading its graphs ends by SIGTERM itself; any other end of a
            # draining child is a crash, whose runs must not wait for their leases.
            if code not in (0, -signal.SIGTERM):
                self.lost.append(worker_id)
            logger.info("%s: worker %s drained (exit %s)", self.pool_id, worker_id, code)
        return exited

    def start_missing(self, now: float, env: Mapping[str, str], executable: Path | None) -> None:
        while len(self.children) < self.target and now >= self.restart_at:
            self.started += 1
            worker_id = f"{self.pool_id}-{self.started}"
            extra = {"AGENTLIST_WORKER_ID": worker_id}
            extra["AGENTLIST_WORKER_CAPACITY"] = str(self.limits.capacity)
            process = self._start(worker_id, {**env, **extra}, executable)
            self.children[worker_id] = PoolChild(worker_id, process, now)
            logger.info("%s: started worker %s (pid %d)", self.pool_id, worker_id, process.pid)

    def _start(
        self, worker_id: str, env: Mapping[str, str], executable: Path | None
    ) -> ChildProcess:
        # From the event loop's thread: the kernel's parent-death signal follows the thread
        # that forked, so a child started from a helper thread would die with that thread.
        if self.language == "javascript":
            return start_js_worker(
                env, self.config, name=worker_id, parent_death_signal=signal.SIGKILL
            )
        command = [str(executable)] if executable else [sys.executable, "-m", "agentlist.worker"]
        argv = [*command, "--config", str(self.config)]
        return spawn(worker_id, argv, env=env, parent_death_signal=signal.SIGKILL)

    def report(self, *, leaving: bool = False) -> PoolReport:
        return PoolReport(
            pool_id=self.pool_id,
            graphs=self.graphs,
            minimum=self.limits.minimum,
            maximum=self.limits.maximum,
            target=self.target,
            workers=sorted(self.children),
            reason=self.reason,
            lost=list(self.lost),
            leaving=leaving,
        )

    def load(self, reply: PoolReply) -> Load:
        states = {worker.worker_id: worker for worker in reply.workers}
        children = []
        for worker_id in self.children:
            known = states.get(worker_id)
            if known is None:
                children.append(Child(worker_id, "starting"))
            else:
                state = _STATES.get(known.state, "unhealthy")
                children.append(Child(worker_id, state, known.inflight))
        mine = set(self.graphs)
        pending = sum(graph.pending for graph in reply.graphs if graph.graph_id in mine)
        return Load(pending, tuple(children))

    def apply(self, decision: Decision) -> None:
        changed = decision.target != self.target or decision.drain
        self.target, self.reason = decision.target, decision.reason
        self.calm_since = decision.calm_since
        for worker_id in decision.drain:
            child = self.children.pop(worker_id, None)
            if child is not None:
                child.process.signal(signal.SIGTERM)
                self.draining[worker_id] = child
        if changed:
            # One line per decision: what the pool wants, why, and whom it drains.
            drained = f"; draining {', '.join(decision.drain)}" if decision.drain else ""
            logger.info("%s: target %d (%s)%s", self.pool_id, self.target, self.reason, drained)

    def stop_all(self) -> None:
        for child in [*self.children.values(), *self.draining.values()]:
            child.process.signal(signal.SIGTERM)
        self.draining.update(self.children)
        self.children.clear()

    def kill_rest(self) -> None:
        for child in self.draining.values():
            if child.process.alive():
                logger.warning(
                    "%s: worker %s did not drain; killing it", self.pool_id, child.worker_id
                )
                child.process.kill()


def lanes_of(settings: PoolSettings, folder: Path) -> list[Lane]:
    configs = split_by_language(settings.config.resolve(), folder)
    lanes = []
    for language, config in sorted(configs.items()):
        graphs = sorted(json.loads(config.read_text()).get("graphs") or {})
        pool_id = settings.pool_id
        if len(configs) > 1:
            pool_id = f"{pool_id}-{_LANE_SUFFIX[language]}"
        lane = Lane(language, config, graphs, pool_id, settings.limits)
        lane.target = initial_target(settings.limits)
        lane.reason = f"starting with {lane.target}"
        if settings.minimum == 0:
            lane.reason += ": one worker registers the graphs, then the cooldown ends it"
        lanes.append(lane)
    return lanes


class Reporter:
    """Sends each lane's report and applies the decision its answer leads to."""

    def __init__(self, settings: PoolSettings, lanes: Sequence[Lane]) -> None:
        self._settings = settings
        self._lanes = lanes
        self._subject = subjects.registry_pool(settings.team)
        self._backoff = Backoff(settings.report_interval, _MOST_REPORT_PAUSE)
        self._answered = True
        self.nc: Client | None = None

    async def report_all(self) -> float:
        """Report for every lane; returns the seconds until the next report."""
        answered = True
        for lane in self._lanes:
            reply = await self._ask(lane)
            load = lane.load(reply) if reply is not None else None
            if reply is not None:
                lane.lost.clear()
            else:
                answered = False
            lane.apply(decide(lane.limits, load, lane.target, lane.calm_since, time.monotonic()))
        if answered:
            self._backoff = Backoff(self._settings.report_interval, _MOST_REPORT_PAUSE)
            return self._settings.report_interval
        return self._backoff.next()

    async def say_goodbye(self) -> None:
        """The last report of every lane, once its children have stopped: the registry forgets
        the pool now instead of after its silence."""
        for lane in self._lanes:
            await self._ask(lane, leaving=True)

    async def _ask(self, lane: Lane, *, leaving: bool = False) -> PoolReply | None:
        if self.nc is None or not self.nc.is_connected:
            return None
        try:
            report = lane.report(leaving=leaving)
            answer = await self.nc.request(
                self._subject, report.model_dump_json().encode(), timeout=_REQUEST_TIMEOUT
            )
            reply = PoolReply.model_validate_json(answer.data)
        except _UNANSWERED as exc:
            if self._answered:
                logger.warning(
                    "%s: no answer from the registry on %s (%s); keeping %d workers and asking"
                    " again",
                    lane.pool_id,
                    self._subject,
                    type(exc).__name__,
                    len(lane.children),
                )
            self._answered = False
            return None
        if not self._answered:
            logger.info("%s: the registry answers again", lane.pool_id)
        self._answered = True
        return reply


async def serve(settings: PoolSettings, stop: asyncio.Event) -> None:
    """Run the pool until ``stop``; then drain every child and return."""
    folder = Path(tempfile.mkdtemp(prefix="agentlist-pool-"))
    try:
        lanes = lanes_of(settings, folder)
        await _supervise(settings, lanes, stop)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _supervise(settings: PoolSettings, lanes: Sequence[Lane], stop: asyncio.Event) -> None:
    env = dict(os.environ)
    reporter = Reporter(settings, lanes)
    connecting = asyncio.create_task(_connect(settings, stop))
    connecting.add_done_callback(lambda task: _keep_client(task, reporter))
    for lane in lanes:
        logger.info(
            "%s: serving %s (%s), %d to %d workers of %d slots, cooldown %gs",
            lane.pool_id,
            ", ".join(lane.graphs),
            lane.language,
            lane.limits.minimum,
            lane.limits.maximum,
            lane.limits.capacity,
            lane.limits.cooldown,
        )
    next_report = 0.0
    try:
        while not stop.is_set():
            now = time.monotonic()
            exited = [lane.reap(now) for lane in lanes]
            if any(exited) or now >= next_report:
                next_report = time.monotonic() + await reporter.report_all()
            for lane in lanes:
                lane.start_missing(time.monotonic(), env, settings.worker_executable)
            await sleep_unless(stop, _WATCH_INTERVAL)
    finally:
        connecting.cancel()
        await _stop_children(lanes, settings.stop_timeout)
        await reporter.say_goodbye()
        if reporter.nc is not None:
            with contextlib.suppress(*mesh_nats.TRANSIENT):
                await reporter.nc.drain()


async def _connect(settings: PoolSettings, stop: asyncio.Event) -> Client | None:
    return await retry(
        "nats",
        lambda: mesh_nats.connect(settings.nats_url, f"agentlist-pool-{settings.pool_id}"),
        stop,
        transient=mesh_nats.TRANSIENT,
        most=_MOST_REPORT_PAUSE,
    )


def _keep_client(task: asyncio.Task[Client | None], reporter: Reporter) -> None:
    if not task.cancelled() and task.exception() is None:
        reporter.nc = task.result()


async def _stop_children(lanes: Sequence[Lane], patience: float) -> None:
    """SIGTERM to every child (they drain), then wait for them, then kill what is left."""
    for lane in lanes:
        lane.stop_all()
    deadline = time.monotonic() + patience
    while any(lane.draining for lane in lanes) and time.monotonic() < deadline:
        for lane in lanes:
            lane.reap(time.monotonic())
        await asyncio.sleep(_WATCH_INTERVAL)
    for lane in lanes:
        lane.kill_rest()


# -- the command --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentlist pool",
        description="Start and replace the workers of a langgraph.json, as many as its load needs.",
        epilog="Environment: NATS_URL and DATABASE_URL (the team's, passed to the workers),"
        " AGENTLIST_POOL_<FLAG> for any flag, AGENTLIST_WORKER_* for the workers.",
    )
    parser.add_argument("--config", type=Path, help="the langgraph.json of the graphs to serve")
    parser.add_argument("--min", type=int, dest="minimum", help="fewest workers (0: scale to zero)")
    parser.add_argument(
        "--max",
        type=int,
        dest="maximum",
        help=f"most workers (default: one per core, at least 2: {default_maximum(os.cpu_count())})",
    )
    parser.add_argument("--cooldown", type=float, help="seconds without backlog before shrinking")
    parser.add_argument("--capacity", type=int, help="run slots per worker (default 10)")
    parser.add_argument("--pool-id", help="the pool's name, the prefix of its workers' ids")
    return parser


def read_settings(argv: Sequence[str]) -> PoolSettings:
    args = vars(_parser().parse_args(list(argv)))
    given: dict[str, Any] = {key: value for key, value in args.items() if value is not None}
    return PoolSettings(**given)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        settings = read_settings(sys.argv[1:] if argv is None else argv)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"agentlist pool: {problems}\n")
        raise SystemExit(2) from exc
    if not settings.config.is_file():
        sys.stderr.write(f"agentlist pool: {settings.config}: no such file\n")
        raise SystemExit(2)
    configure_logging("pool", settings.log_level, settings.debug)
    run_service("pool", lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
