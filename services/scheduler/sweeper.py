"""The lease sweeper: runs whose worker stopped renewing their lease are retried or ended."""

from __future__ import annotations

import logging

import asyncpg
import nats.errors
from nats.js import JetStreamContext

from agentlist.scheduler import queries
from agentlist.scheduler.finisher import FinishingRun, publish_end, take_over
from agentlist.scheduler.leases import ExpiredLease, Finish, Requeue, decide
from agentlist.scheduler.settings import SchedulerSettings

logger = logging.getLogger(__name__)


async def sweep_once(pool: asyncpg.Pool, js: JetStreamContext, settings: SchedulerSettings) -> int:
    """One pass over expired leases (judged by Postgres ``now()``). Returns how many runs it
    requeued or ended. Publishing happens after commit; a failed publish is repeated when the
    finisher's own lease expires (see :mod:`agentlist.scheduler.finisher`)."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(queries.EXPIRED_LEASES, settings.batch_size)
        expired = [ExpiredLease(**dict(row)) for row in rows]
        requeue = [
            e.run_id for e in expired if isinstance(decide(e, settings.max_attempts), Requeue)
        ]
        if requeue:
            await conn.execute(queries.REQUEUE, requeue)
        finishing = await _take_over(conn, expired, settings)
    for run_id in requeue:
        logger.info("lease of run %s expired: back to the queue", run_id)
    for run in finishing:
        logger.warning("run %s ends as attempt %s: its worker was lost", run.run_id, run.attempt)
        try:
            await publish_end(js, run, settings.dispatch_timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            logger.warning("run %s not ended yet (%r): retried at lease expiry", run.run_id, exc)
    return len(requeue) + len(finishing)


async def _take_over(
    conn: queries.Connection, expired: list[ExpiredLease], settings: SchedulerSettings
) -> list[FinishingRun]:
    finishing: list[FinishingRun] = []
    for lease in expired:
        decision = decide(lease, settings.max_attempts)
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
