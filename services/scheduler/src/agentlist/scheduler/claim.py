"""The claim transaction: pending runs become ``running`` on workers with room for them."""

from __future__ import annotations

import random

import asyncpg

from agentlist.contracts.events import new_lease_token
from agentlist.scheduler import queries
from agentlist.scheduler.placement import free_slots_by_graph, place
from agentlist.scheduler.queries import StartedRun
from agentlist.scheduler.settings import SchedulerSettings


async def claim(pool: asyncpg.Pool, settings: SchedulerSettings) -> list[StartedRun]:
    """Claim and place up to ``batch_size`` runs in one transaction (protocol: "The
    scheduler"), each started attempt with a fresh lease token. The advisory lock makes
    concurrent schedulers place one after the other, so that each reads in-flight counts that
    include the others' placements; ``SKIP LOCKED`` passes over runs another transaction (a
    cancel) holds."""
    async with pool.acquire() as conn, conn.transaction():
        await queries.lock_placement(conn)
        workers = await queries.healthy_workers(conn, settings.suspect_after)
        free = free_slots_by_graph(workers)
        if not free:
            return []
        limit = min(settings.batch_size, sum(w.free for w in workers))
        # Drawn from the OS, so that no worker can predict how ties fall.
        placed = place(
            await queries.claim_candidates(conn, free, limit), workers, random.SystemRandom()
        )
        if not placed:
            return []
        tokens = {run_id: new_lease_token() for run_id in placed}
        return await queries.start_runs(conn, placed, tokens, settings.lease_seconds)


async def next_due_in(pool: asyncpg.Pool) -> float | None:
    """Seconds until the earliest delayed run may start, if any."""
    return await queries.next_due_in(pool)
