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

# Rows (graph_id, pending, running, healthy_capacity): every graph registered or with active
# runs (migrations/0006_pools.sql).
GRAPH_LOAD: Final = (
    "SELECT graph_id, pending, running, healthy_capacity FROM agentlist_graph_load(NULL)"
)

# The pools that reported lately (a silent one is gone: migrations/0006_pools.sql).
LIVE_POOLS: Final = """
SELECT pool_id, team, graphs, minimum, maximum, target, size, workers, reason, reported_at,
       extract(epoch FROM now() - reported_at)::float8 AS seconds_since_report
  FROM pools
 WHERE gone_at > now()
 ORDER BY team, pool_id
"""

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
    graphs: list[asyncpg.Record]
    pools: list[asyncpg.Record]


async def snapshot(pool: asyncpg.Pool) -> Gauges:
    return Gauges(
        runs=await pool.fetch(ACTIVE_RUNS_BY_GRAPH),
        oldest_pending_seconds=await pool.fetchval(OLDEST_PENDING),
        workers=await pool.fetch(WORKERS_BY_STATE),
        graphs=await pool.fetch(GRAPH_LOAD),
        pools=await live_pools(pool),
    )


async def live_pools(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(LIVE_POOLS)
    return rows
