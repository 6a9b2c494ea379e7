"""Mesh-wide gauges read from Postgres: every API instance reports the same picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg

# Across tenants, counts only: SECURITY DEFINER functions (migrations/0004_roles_and_rls.sql).

# Rows (status, graph_id, n) of the active runs.
ACTIVE_RUNS_BY_GRAPH: Final = "SELECT status, graph_id, n FROM agentlist_active_runs_by_graph()"

# Seconds the oldest run due to start has waited (delayed runs are not due yet).
OLDEST_PENDING: Final = "SELECT agentlist_oldest_pending_seconds()"

# Rows (state, language, n, capacity).
WORKERS_BY_STATE: Final = """
SELECT state, language, count(*) AS n, coalesce(sum(capacity), 0) AS capacity
  FROM workers GROUP BY state, language
"""


@dataclass(frozen=True)
class Gauges:
    runs: list[asyncpg.Record]
    oldest_pending_seconds: float
    workers: list[asyncpg.Record]


async def snapshot(pool: asyncpg.Pool) -> Gauges:
    return Gauges(
        runs=await pool.fetch(ACTIVE_RUNS_BY_GRAPH),
        oldest_pending_seconds=await pool.fetchval(OLDEST_PENDING),
        workers=await pool.fetch(WORKERS_BY_STATE),
    )
