"""Mesh-wide gauges read from Postgres: every API instance reports the same picture."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import asyncpg

from agentlist.db.sql import ACTIVE_RUNS

# Rows (status, graph_id, n).
ACTIVE_RUNS_BY_GRAPH: Final = f"""
SELECT status, graph_id, count(*) AS n FROM runs
 WHERE status IN {ACTIVE_RUNS} GROUP BY status, graph_id
"""

# Seconds the oldest run due to start has waited (delayed runs are not due yet).
OLDEST_PENDING: Final = """
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
  FROM runs WHERE status = 'pending' AND created_at <= now()
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


async def snapshot(pool: asyncpg.Pool) -> Gauges:
    return Gauges(
        runs=await pool.fetch(ACTIVE_RUNS_BY_GRAPH),
        oldest_pending_seconds=await pool.fetchval(OLDEST_PENDING),
        workers=await pool.fetch(WORKERS_BY_STATE),
    )
