"""The lease sweeper: runs whose worker stopped renewing their lease are retried or ended."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext
from pydantic import ValidationError

from agentlist.contracts import subjects
from agentlist.contracts.events import RUN_MESSAGE, RunOutcome
from agentlist.db.sql import Executor
from agentlist.scheduler import queries
from agentlist.scheduler.finisher import publish_end, take_over
from agentlist.scheduler.leases import ExpiredLease, Extend, Finish, Requeue, decide
from agentlist.scheduler.settings import SchedulerSettings

logger = logging.getLogger(__name__)

Decided = list[tuple[ExpiredLease, Requeue | Finish | Extend]]


async def sweep_once(pool: asyncpg.Pool, js: JetStreamContext, settings: SchedulerSettings) -> int:
    """One pass over expired leases (judged by Postgres ``now()``). Returns how many runs it
    requeued or ended. Publishing happens after commit; a failed publish is repeated when the
    finisher's own lease expires (see :mod:`agentlist.scheduler.finisher`)."""
    async with pool.acquire() as conn, conn.transaction():
        expired = await queries.expired_leases(conn, settings.batch_size)
        decided = await _decide(js, expired, settings)
        extend = [lease.run_id for lease, d in decided if isinstance(d, Extend)]
        if extend:
            await queries.extend_leases(conn, extend, settings.lease_seconds)
        requeue = [lease.run_id for lease, d in decided if isinstance(d, Requeue)]
        if requeue:
            await queries.requeue(conn, requeue)
        finishing = await _take_over(conn, decided, settings)
    for run_id in extend:
        logger.info("run %s has ended; its outcome waits for a bridge", run_id)
    for run_id in requeue:
        logger.info("lease of run %s expired: back to the queue", run_id)
    for run in finishing:
        logger.warning("run %s ends as attempt %s: its worker was lost", run.run_id, run.attempt)
        try:
            await publish_end(js, run, settings.dispatch_timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            logger.warning("run %s not ended yet (%r): retried at lease expiry", run.run_id, exc)
    return len(requeue) + len(finishing)


async def _decide(
    js: JetStreamContext, expired: list[ExpiredLease], settings: SchedulerSettings
) -> Decided:
    """A worker that published its outcome holds the run no more, so its lease lapses if no
    bridge applies the outcome in time; retrying the run then would fence off the events the
    bridges have yet to write. A lease whose outcome JetStream cannot be asked about now is
    left for the next pass."""
    reported = await asyncio.gather(
        *(_outcome_published(js, lease, settings.dispatch_timeout) for lease in expired)
    )
    return [
        (lease, decide(lease, settings.max_attempts, reported=known))
        for lease, known in zip(expired, reported, strict=True)
        if known is not None
    ]


async def _outcome_published(js: JetStreamContext, lease: ExpiredLease, wait: float) -> bool | None:
    """Whether the last message on the run's events subject is this attempt's outcome (with
    the attempt's lease token); None when JetStream does not answer."""
    subject = subjects.run_events(str(lease.run_id))
    try:
        last = await asyncio.wait_for(js.get_last_msg(subjects.EVENTS_STREAM, subject), wait)
    except nats.js.errors.APIError:  # JetStream answered: no such message (or stream)
        return False
    except (nats.errors.Error, TimeoutError) as exc:
        logger.debug("run %s: cannot read its last event (%r); swept later", lease.run_id, exc)
        return None
    try:
        message = RUN_MESSAGE.validate_json(last.data or b"")
    except ValidationError:
        return False
    if not isinstance(message, RunOutcome) or message.attempt != lease.attempt:
        return False
    if lease.lease_token is None or message.token != lease.lease_token:
        # Someone else's outcome: believed, it would keep the run waiting for ever.
        logger.warning(
            "run %s: ignoring an outcome of attempt %d without its lease token "
            "(stream seq %s, Nats-Msg-Id %r)",
            lease.run_id,
            message.attempt,
            last.seq,
            (last.headers or {}).get("Nats-Msg-Id"),
        )
        return False
    return True


async def _take_over(
    conn: Executor, decided: Decided, settings: SchedulerSettings
) -> list[queries.FinishingRun]:
    finishing: list[queries.FinishingRun] = []
    for lease, decision in decided:
        if not isinstance(decision, Finish):
            continue
        run = await take_over(
            conn,
            run_id=lease.run_id,
            attempt=lease.attempt,
            worker_id=lease.worker_id,
            finishing_attempt=decision.attempt,
            error=decision.error,
            lease_seconds=settings.lease_seconds,
        )
        if run is not None:
            finishing.append(run)
    return finishing
