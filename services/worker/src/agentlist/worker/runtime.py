"""The worker's side of the run protocol on NATS: dispatches, cancels, control, draining."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from agentlist.contracts import (
    DispatchReply,
    HeartbeatReply,
    RunCancel,
    RunDispatch,
    WorkerControl,
    WorkerControlReply,
)
from agentlist.worker.attempt import AttemptDeps, run_attempt
from agentlist.worker.runs import ActiveRun, RunTable

logger = logging.getLogger(__name__)


class WorkerRuntime:
    """Holds the runs of one worker and answers what the mesh asks about them."""

    def __init__(self, nc: Client, worker_id: str, table: RunTable, deps: AttemptDeps) -> None:
        self.nc = nc
        self.worker_id = worker_id
        self.table = table
        self.deps = deps
        self.drain_requested = asyncio.Event()
        self.on_draining: Callable[[], None] = lambda: None
        """Called once when draining starts (the heartbeat loop reports it at once)."""

    @property
    def draining(self) -> bool:
        return self.table.draining

    # -- dispatch ---------------------------------------------------------------------------

    async def on_dispatch(self, msg: Msg) -> None:
        try:
            dispatch = RunDispatch.model_validate_json(msg.data)
        except ValidationError as exc:
            logger.warning("unreadable dispatch: %s", exc)
            await self._reply(msg, DispatchReply(accepted=False, reason="unreadable dispatch"))
            return
        decision = self.table.decide(dispatch)
        if decision.supersedes is not None:
            logger.info(
                "run %s: attempt %d replaces %d",
                dispatch.run_id,
                dispatch.attempt,
                decision.supersedes.attempt,
            )
            decision.supersedes.revoke()
            self.table.forget(decision.supersedes)
        if decision.start:
            # Held before replying: a cancel sent right after acceptance finds it (cancels
            # reach the worker's one subscription to every run's cancel subject).
            run = self.table.hold(dispatch)
            run.task = asyncio.create_task(self._attempt(run), name=f"run-{dispatch.run_id}")
            logger.info(
                "run %s attempt %d accepted (%s, %d/%d held)",
                dispatch.run_id,
                dispatch.attempt,
                dispatch.graph_id,
                len(self.table),
                self.table.capacity,
            )
        elif not decision.accepted:
            logger.info(
                "run %s attempt %d refused: %s", dispatch.run_id, dispatch.attempt, decision.reason
            )
        await self._reply(msg, DispatchReply(accepted=decision.accepted, reason=decision.reason))

    async def _attempt(self, run: ActiveRun) -> None:
        try:
            await run_attempt(run, self.deps)
        except asyncio.CancelledError:
            logger.info("run %s attempt %d revoked", run.run_id, run.attempt)
        except Exception:
            logger.exception("run %s attempt %d failed to report", run.run_id, run.attempt)
        finally:
            self.table.forget(run)

    # -- cancels and heartbeat replies -------------------------------------------------------

    async def on_cancel(self, msg: Msg) -> None:
        """Every run's cancels arrive here (one subscription, not a subscribe and unsubscribe
        per run); those of runs held elsewhere are ignored."""
        try:
            cancel = RunCancel.model_validate_json(msg.data)
        except ValidationError as exc:
            logger.warning("unreadable cancel: %s", exc)
            return
        if self.table.cancel(cancel.run_id, cancel.action):
            logger.info("run %s: cancel (%s) requested", cancel.run_id, cancel.action)

    def apply_heartbeat_reply(self, reply: HeartbeatReply) -> None:
        for held in reply.revoked:
            if self.table.revoke(held):
                logger.warning(
                    "run %s attempt %d revoked by the registry", held.run_id, held.attempt
                )
        for cancel in reply.cancels:
            self.table.cancel(cancel.run_id, cancel.action)
        if reply.drain:
            self.start_draining("the registry asked")

    # -- control and draining ---------------------------------------------------------------

    async def on_control(self, msg: Msg) -> None:
        try:
            control = WorkerControl.model_validate_json(msg.data)
        except ValidationError as exc:
            logger.warning("unreadable control message: %s", exc)
            return
        if control.action == "drain":
            self.start_draining("a control message asked")
        await self._reply(
            msg,
            WorkerControlReply(
                worker_id=self.worker_id, inflight=len(self.table), draining=self.draining
            ),
        )

    def start_draining(self, why: str) -> None:
        if self.table.draining:
            return
        logger.info("draining (%s): %d runs held", why, len(self.table))
        self.table.draining = True
        self.drain_requested.set()
        self.on_draining()

    async def finish_draining(self, grace_seconds: float, release_seconds: float = 30) -> None:
        """Let held runs finish for ``grace_seconds``, then hand the rest back (``released``)
        and give their outcomes ``release_seconds`` to be published."""
        await self._wait_for_runs(grace_seconds)
        leftovers = list(self.table)
        for run in leftovers:
            run.stop("released")
        if not leftovers:
            return
        logger.info("handing back %d unfinished runs", len(leftovers))
        await self._wait_for_runs(release_seconds)
        for run in self.table:
            logger.warning("run %s: could not report its release; its lease will", run.run_id)
            run.revoke()
        await self._wait_for_runs(5)

    async def _wait_for_runs(self, seconds: float | None) -> None:
        tasks = [run.task for run in self.table if run.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)

    async def _reply(self, msg: Msg, reply: Any) -> None:
        if msg.reply:
            await self.nc.publish(msg.reply, reply.model_dump_json().encode())
