"""Workers and the graphs they serve, as the registry records them: every SQL statement the
API runs on them, each with the function that runs it."""

from __future__ import annotations

from typing import Final

import asyncpg

WORKERS_BY_STATE: Final = "SELECT state, count(*) AS n FROM workers GROUP BY state"

# A graph is served when a healthy worker runs it, or when a live pool would start one for it:
# a pool scaled to zero still serves its graphs. Only graphs some worker registered once count
# (the pool's report names graphs; a worker's registration proves they load).
SERVED_GRAPHS: Final = """
SELECT unnest(graphs) AS graph_id FROM workers WHERE state = 'healthy'
UNION
(SELECT unnest(graphs) FROM pools WHERE gone_at > now() INTERSECT SELECT graph_id FROM graphs)
ORDER BY 1
"""


async def summary(pool: asyncpg.Pool) -> tuple[dict[str, int], list[str]]:
    """Worker counts by state, and the graphs a healthy worker or a live pool serves."""
    rows = await pool.fetch(WORKERS_BY_STATE)
    graphs = await pool.fetch(SERVED_GRAPHS)
    return {row["state"]: row["n"] for row in rows}, [row["graph_id"] for row in graphs]


# Live workers first, the newest first, each with the pool that runs it (if one reported
# lately); inflight counts the runs each holds now, of every
# tenant (a SECURITY DEFINER function, migrations/0004_roles_and_rls.sql).
LIST_ALL: Final = """
SELECT w.worker_id, w.language, w.version, w.host, w.pid, w.capacity, w.state,
       w.graphs, w.runtime, w.drain_requested, w.registered_at, w.last_heartbeat_at,
       extract(epoch FROM now() - w.last_heartbeat_at)::float8 AS seconds_since_heartbeat,
       coalesce(r.n, 0) AS inflight, p.pool_id
FROM workers w
LEFT JOIN agentlist_running_by_worker() r ON r.worker_id = w.worker_id
LEFT JOIN LATERAL (
    SELECT p.pool_id FROM pools p
     WHERE p.team = w.team AND w.worker_id = ANY (p.workers) AND p.gone_at > now()
     ORDER BY p.reported_at DESC LIMIT 1
) p ON true
ORDER BY w.state = 'dead', w.registered_at DESC
"""


async def list_all(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(LIST_ALL)
    return rows


REQUEST_DRAIN: Final = (
    "UPDATE workers SET drain_requested = true WHERE worker_id = $1 AND state <> 'dead'"
    " RETURNING team"
)


async def request_drain(pool: asyncpg.Pool, worker_id: str) -> str | None:
    """Flag a live worker to drain (its next heartbeat reply tells it); returns its team, or
    None if there is no such live worker."""
    team: str | None = await pool.fetchval(REQUEST_DRAIN, worker_id)
    return team
