"""The claim transaction: pending runs become ``running`` on workers with room for them."""

from __future__ import annotations

import random
from dataclasses import dataclass

import asyncpg

from agentlist.contracts.events import new_lease_token
from agentlist.db.pool import transaction_begun_with
from agentlist.scheduler import queries
from agentlist.scheduler.placement import free_slots_by_graph, place
from agentlist.scheduler.queries import StartedRun
from agentlist.scheduler.settings import SchedulerSettings


@dataclass(frozen=True)
class Claimed:
    started: list[StartedRun]
    next_due_in: float | None
    """Seconds until the earliest delayed run may start, as the claim saw it; None: none."""


async def claim(pool: asyncpg.Pool, settings: SchedulerSettings) -> Claimed:
    """Claim and place up to ``batch_size`` runs in one transaction (protocol: "The
    scheduler"), each started attempt with a fresh lease token. The advisory lock makes
    concurrent schedulers place one after the other, so that each reads in-flight counts that
    include the others' placements; ``SKIP LOCKED`` passes over runs another transaction (a
    cancel) holds.

    Round trips: the transaction with its lock, what to place, the starts, the commit."""
    async with pool.acquire() as conn, transaction_begun_with(conn, queries.LOCK_PLACEMENT):
        view = await queries.placement_view(conn, settings.suspect_after, settings.batch_size)
        if not free_slots_by_graph(view.workers):
            return Claimed([], view.next_due_in)
        # Drawn from the OS, so that no worker can predict how ties fall.
        placed = place(view.candidates, view.workers, random.SystemRandom())
        if not placed:
            return Claimed([], view.next_due_in)
        tokens = {run_id: new_lease_token() for run_id in placed}
        started = await queries.start_runs(conn, placed, tokens, settings.lease_seconds)
        return Claimed(started, view.next_due_in)
