"""Sending claimed runs to their workers: fence first, then the dispatch request."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable

import asyncpg
import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from pydantic import ValidationError

from agentlist.contracts import subjects
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import AttemptStarted
from agentlist.contracts.runs import DispatchReply, RunDispatch, RunKwargs
from agentlist.core.run_end import publish_run_message
from agentlist.scheduler import queries
from agentlist.scheduler.finisher import publish_end, take_over
from agentlist.scheduler.leases import INVALID_RUN
from agentlist.scheduler.queries import StartedRun

logger = logging.getLogger(__name__)

_NATS_FAILURES = (nats.errors.Error, TimeoutError)


class Dispatched(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    """The worker refused: the run is pending again, the attempt undone."""
    NO_REPLY = "no_reply"
    """Left running: the lease decides (renewed if the worker did take it)."""
    NOT_FENCED = "not_fenced"
    """``AttemptStarted`` was not acknowledged: the claim was undone, nothing was sent."""
    INVALID = "invalid"
    """The run's kwargs are not a ``RunKwargs``: ended with an error."""


def to_dispatch(run: StartedRun) -> RunDispatch:
    """The dispatch of a started run; raises ``ValidationError`` for unusable kwargs."""
    return RunDispatch(
        run_id=str(run.run_id),
        thread_id=str(run.thread_id),
        assistant_id=str(run.assistant_id),
        graph_id=run.graph_id,
        tenant_id=run.tenant_id,
        attempt=run.attempt,
        token=run.lease_token,
        resume_from_checkpoint=run.attempt > 1,
        params=RunKwargs.model_validate(run.kwargs),
    )


class Dispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        nc: Client,
        js: JetStreamContext,
        *,
        timeout: float,
        lease_seconds: float,
    ) -> None:
        self._pool = pool
        self._nc = nc
        self._js = js
        self._timeout = timeout
        self._lease_seconds = lease_seconds

    async def dispatch_all(self, runs: Iterable[StartedRun]) -> list[Dispatched]:
        return list(await asyncio.gather(*(self.dispatch(run) for run in runs)))

    async def dispatch(self, run: StartedRun) -> Dispatched:
        try:
            request = to_dispatch(run)
        except ValidationError as exc:
            await self._end_invalid(run, exc)
            return Dispatched.INVALID
        started = AttemptStarted(
            run_id=request.run_id,
            thread_id=request.thread_id,
            attempt=run.attempt,
            worker_id=run.worker_id,
            token=run.lease_token,
        )
        try:
            await publish_run_message(self._js, started, ack_wait=self._timeout)
        except _NATS_FAILURES as exc:
            logger.warning("run %s: AttemptStarted not acknowledged (%r)", run.run_id, exc)
            await self._undo(run)
            return Dispatched.NOT_FENCED
        return await self._request(run, request)

    async def _request(self, run: StartedRun, request: RunDispatch) -> Dispatched:
        try:
            msg = await self._nc.request(
                subjects.worker_dispatch(run.team, run.worker_id),
                request.model_dump_json().encode(),
                timeout=self._timeout,
            )
            reply = DispatchReply.model_validate_json(msg.data)
        except (*_NATS_FAILURES, ValidationError) as exc:
            logger.warning(
                "run %s: no answer from worker %s (%r); the lease decides",
                run.run_id,
                run.worker_id,
                exc,
            )
            return Dispatched.NO_REPLY
        if reply.accepted:
            logger.debug("run %s attempt %s on %s", run.run_id, run.attempt, run.worker_id)
            return Dispatched.ACCEPTED
        logger.info("worker %s rejected run %s: %s", run.worker_id, run.run_id, reply.reason)
        await self._undo(run)
        return Dispatched.REJECTED

    async def _undo(self, run: StartedRun) -> None:
        """Back to ``pending`` as if never claimed. If this fails too, the lease decides."""
        try:
            await queries.undo_start(self._pool, run)
        except (asyncpg.PostgresError, OSError) as exc:
            logger.warning(
                "run %s: could not undo its claim (%r); the lease decides", run.run_id, exc
            )

    async def _end_invalid(self, run: StartedRun, exc: ValidationError) -> None:
        logger.error("run %s has unusable kwargs: %s", run.run_id, exc)
        error = ErrorInfo(error=INVALID_RUN, message=f"the run's parameters are invalid: {exc}")
        async with self._pool.acquire() as conn:
            finishing = await take_over(
                conn,
                run_id=run.run_id,
                attempt=run.attempt,
                worker_id=run.worker_id,
                finishing_attempt=run.attempt,
                error=error,
                lease_seconds=self._lease_seconds,
            )
        if finishing is not None:
            try:
                await publish_end(self._js, finishing, self._timeout)
            except _NATS_FAILURES as exc2:
                logger.warning("run %s: end not published yet (%r)", run.run_id, exc2)
