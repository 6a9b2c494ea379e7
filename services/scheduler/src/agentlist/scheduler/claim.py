"""The claim transaction: pending runs become ``running`` on workers with room for them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from agentlist.scheduler import queries
from agentlist.scheduler.placement import Candidate, WorkerLoad, free_slots_by_graph, place
from agentlist.scheduler.settings import SchedulerSettings


@dataclass(frozen=True)
class StartedRun:
    """A run the claim just marked ``running`` on ``worker_id`` as ``attempt``."""

    run_id: UUID
    thread_id: UUID
    assistant_id: UUID
    graph_id: str
    tenant_id: str
    attempt: int
    worker_id: str
    kwargs: Any


async def claim(pool: asyncpg.Pool, settings: SchedulerSettings) -> list[StartedRun]:
    """Claim and place up to ``batch_size`` runs in one transaction (protocol: "The
    scheduler"). The advisory lock makes concurrent schedulers place one after the other, so
    that each reads in-flight counts that include the others' placements; ``SKIP LOCKED``
    passes over runs another transaction (a cancel) holds."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(queries.LOCK_PLACEMENT, queries.PLACEMENT_LOCK_KEY)
        workers = [
            WorkerLoad(
                worker_id=row["worker_id"],
                capacity=row["capacity"],
                inflight=row["inflight"],
                graphs=frozenset(row["graphs"]),
            )
            for row in await conn.fetch(queries.HEALTHY_WORKERS, settings.suspect_after)
        ]
        free = free_slots_by_graph(workers)
        if not free:
            return []
        graphs = sorted(free)
        limit = min(settings.batch_size, sum(w.free for w in workers))
        rows = await conn.fetch(queries.CLAIM_CANDIDATES, graphs, [free[g] for g in graphs], limit)
        placed = place([Candidate(row["run_id"], row["graph_id"]) for row in rows], workers)
        if not placed:
            return []
        started = await conn.fetch(
            queries.START_RUNS, list(placed), list(placed.values()), settings.lease_seconds
        )
    return [StartedRun(**dict(row)) for row in started]


async def next_due_in(pool: asyncpg.Pool) -> float | None:
    """Seconds until the earliest delayed run may start, if any."""
    value: float | None = await pool.fetchval(queries.NEXT_DUE_IN)
    return value
