"""One attempt of a run, from the accepted dispatch to its single outcome (protocol 5-7)."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from nats.js import JetStreamContext

from agentlist.contracts import ErrorInfo, OutcomeStatus, RunDispatch
from agentlist.contracts.events import CANCELLED_STATUS
from agentlist.worker.loader import Graph, GraphSource
from agentlist.worker.persistence import Persistence
from agentlist.worker.publisher import EventPublisher, OutcomeFields, RunRef
from agentlist.worker.rollback import (
    WritesBaseline,
    delete_run_writes,
    needs_baseline,
    take_baseline,
)
from agentlist.worker.runs import ActiveRun, StopReason
from agentlist.worker.stream import (
    graph_events,
    run_config,
    run_input,
    thread_config,
    without_fork,
)
from agentlist.worker.thread_state import has_checkpoint, interrupts_by_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttemptDeps:
    js: JetStreamContext
    persistence: Persistence
    graphs: Mapping[str, GraphSource]
    run_timeout_seconds: float


_RECANCEL_SECONDS = 0.5
_SLOW_SECONDS = 5.0
"""A stop, or a final state read, that lasts this long is logged with where it waits."""
_TASKS_SHOWN = 8
STORE_FAILURE_ATTEMPTS = 3
"""Attempts up to which a run whose checkpoint store failed under it is handed back."""


def status_of_stop(reason: StopReason) -> OutcomeStatus:
    """A stopped run ends cancelled, or goes back to the queue when its worker drains."""
    return "released" if reason == "released" else CANCELLED_STATUS[reason]


@dataclass(frozen=True)
class Ending:
    status: OutcomeStatus
    error: ErrorInfo | None = None
    store_failed: bool = False
    """Postgres failed under the run: the worker's other connections may be dead too."""


async def run_attempt(run: ActiveRun, deps: AttemptDeps) -> None:
    """Run the graph, publish its events, then exactly one outcome. Cancelling this task
    (a revoked run) stops it without publishing anything more."""
    dispatch = run.dispatch
    publisher = EventPublisher(
        deps.js, RunRef(dispatch.run_id, dispatch.thread_id, dispatch.attempt, dispatch.token)
    )
    graph: Graph | None = None
    baseline = WritesBaseline(None)
    try:
        config = run_config(dispatch)
        persistence = deps.persistence
        source = deps.graphs[dispatch.graph_id]
        store = persistence.store_for(dispatch.tenant_id)
        graph = await source.build(config, persistence.checkpointer(), store)
        if needs_baseline(dispatch):
            baseline = await take_baseline(persistence.pool, dispatch.thread_id)
        graph_input, config = await _starting_point(graph, dispatch, config)
        ending = await _drive(run, graph, graph_input, config, publisher, deps.run_timeout_seconds)
    except Exception as exc:
        logger.exception("run %s could not start", dispatch.run_id)
        ending = _failed(exc, dispatch)
    if ending.store_failed:
        await deps.persistence.drop_dead_connections()  # before the next runs fail on them too
    if ending.status == "rollback":
        await _roll_back(deps.persistence, dispatch, baseline)
    reading = asyncio.create_task(_final_fields(graph, dispatch, ending))
    fields = await _logged_if_slow(reading, dispatch.run_id, deps.persistence)
    run.reporting = True
    await publisher.outcome(fields)
    logger.info(
        "run %s attempt %d: %s after %d messages",
        dispatch.run_id,
        dispatch.attempt,
        fields.status,
        publisher.published,
    )


async def _starting_point(
    graph: Graph, dispatch: RunDispatch, config: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """A retried attempt continues from the checkpoints its run already wrote, if any."""
    if dispatch.resume_from_checkpoint:
        latest = await graph.aget_state(thread_config(dispatch.thread_id))
        if (latest.metadata or {}).get("run_id") == dispatch.run_id:
            logger.info("run %s: continuing from its last checkpoint", dispatch.run_id)
            return None, without_fork(config)
    return run_input(dispatch.params), config


async def _drive(
    run: ActiveRun,
    graph: Graph,
    graph_input: Any,
    config: dict[str, Any],
    publisher: EventPublisher,
    timeout_seconds: float,
) -> Ending:
    streaming = asyncio.create_task(_pump(graph, graph_input, config, run, publisher))
    stop_requested = asyncio.create_task(run.stopped.wait())
    try:
        done, _ = await asyncio.wait(
            {streaming, stop_requested},
            timeout=timeout_seconds,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        stop_requested.cancel()
        await _cancel(streaming, run.run_id)
    if streaming in done and not streaming.cancelled():
        failure = streaming.exception()
        if failure is None:
            return Ending("success")
        logger.info("run %s raised %r", run.run_id, failure)
        return _failed(failure, run.dispatch)
    if run.stop_reason is not None:
        return Ending(status_of_stop(run.stop_reason))
    message = f"Run exceeded {timeout_seconds:g}s"
    return Ending("timeout", ErrorInfo(error="TimeoutError", message=message))


async def _cancel(task: asyncio.Task[None], run_id: str) -> None:
    """Cancel until it stops: code inside a graph (or ``wait_for`` before Python 3.12) may
    swallow one cancellation. A stop that lasts is logged once with where the run hangs, since
    its outcome (and its client) waits for it."""
    loop = asyncio.get_running_loop()
    told_at = loop.time() + _SLOW_SECONDS
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=_RECANCEL_SECONDS)
        if not task.done() and loop.time() >= told_at:
            told_at = math.inf
            logger.warning(
                "run %s: still stopping after %gs, at:\n%s",
                run_id,
                _SLOW_SECONDS,
                _where(task),
            )


async def _logged_if_slow(
    reading: asyncio.Task[OutcomeFields], run_id: str, persistence: Persistence
) -> OutcomeFields:
    """The final state, logged once with where it waits and the connection pool's counters
    if it takes long: its run's outcome waits for it."""
    try:
        done, _ = await asyncio.wait({reading}, timeout=_SLOW_SECONDS)
    except asyncio.CancelledError:  # the run revoked: nobody will want its state
        reading.cancel()
        raise
    if not done:
        logger.warning(
            "run %s: reading its final state for %gs, pool %s, at:\n%s",
            run_id,
            _SLOW_SECONDS,
            persistence.pool.get_stats(),
            _where(reading),
        )
    return await reading


def _where(task: asyncio.Task[Any]) -> str:
    """Where the task waits, and then each task it awaits in turn (LangGraph runs each node in
    a task of its own): the innermost line names the code that holds on. ``Task.print_stack``
    shows only a task's outermost frame, so the await chain is walked here."""
    lines: list[str] = []
    waited: object = task
    for _ in range(_TASKS_SHOWN):
        if not isinstance(waited, asyncio.Task):
            break
        lines.append(f"  task {waited.get_name()}:")
        lines.extend(_awaiting(waited.get_coro()))
        waited = getattr(waited, "_fut_waiter", None)  # what it awaits: CPython's own field
    return "\n".join(lines)


def _awaiting(coro: object) -> list[str]:
    lines = []
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "ag_frame", None)
        if frame is not None:
            code = frame.f_code
            lines.append(f"    {code.co_filename}:{frame.f_lineno} in {code.co_name}")
        coro = getattr(coro, "cr_await", None) or getattr(coro, "ag_await", None)
    return lines


async def _pump(
    graph: Graph, graph_input: Any, config: dict[str, Any], run: ActiveRun, out: EventPublisher
) -> None:
    async for name, data in graph_events(graph, graph_input, config, run.dispatch.params):
        await out.event(name, data)


async def _roll_back(
    persistence: Persistence, dispatch: RunDispatch, baseline: WritesBaseline
) -> None:
    try:
        removed = await delete_run_writes(
            persistence.pool, dispatch.thread_id, dispatch.run_id, baseline
        )
        logger.info("run %s rolled back: %d checkpoints deleted", dispatch.run_id, removed)
    except Exception:
        logger.exception("run %s: rollback failed", dispatch.run_id)


async def _final_fields(
    graph: Graph | None, dispatch: RunDispatch, ending: Ending
) -> OutcomeFields:
    """The outcome with the thread's state at its latest checkpoint. A success whose state
    cannot be read is not reported as one (its answer would be missing): like a failure of
    the store mid-run, it is handed back, and the next attempt, resuming from the last
    checkpoint, reads it."""
    if graph is None:
        return OutcomeFields(ending.status, error=ending.error)
    try:
        snapshot = await graph.aget_state(thread_config(dispatch.thread_id))
    except Exception as exc:
        logger.exception("thread %s: cannot read the final state", dispatch.thread_id)
        if ending.status != "success":
            return OutcomeFields(ending.status, error=ending.error)
        unread = _failed(exc, dispatch)
        return OutcomeFields(unread.status, error=unread.error)
    if not has_checkpoint(snapshot):
        return OutcomeFields(ending.status, values={}, error=ending.error)
    configurable = (snapshot.config or {}).get("configurable") or {}
    return OutcomeFields(
        ending.status,
        values=snapshot.values,
        next=tuple(snapshot.next),
        interrupts=interrupts_by_task(snapshot),
        error=ending.error,
        checkpoint_id=configurable.get("checkpoint_id"),
    )


def _failed(exc: BaseException, dispatch: RunDispatch) -> Ending:
    """A lost connection to Postgres (a restart, a failover) is no fault of the graph: the
    run goes back to the queue and its next attempt continues from its last checkpoint, a few
    times. Any other exception is the graph's error."""
    if isinstance(exc, psycopg.OperationalError) and dispatch.attempt < STORE_FAILURE_ATTEMPTS:
        logger.warning(
            "run %s: the checkpoint store failed (%r); handing it back", dispatch.run_id, exc
        )
        return Ending("released", store_failed=True)
    return Ending("error", _error_info(exc))


def _error_info(exc: BaseException) -> ErrorInfo:
    return ErrorInfo(error=type(exc).__name__, message=str(exc))
