"""Workers and the graphs they serve, as the registry records them."""

from __future__ import annotations

import asyncpg


async def summary(pool: asyncpg.Pool) -> tuple[dict[str, int], list[str]]:
    """Worker counts by state, and the graphs some healthy worker serves."""
    rows = await pool.fetch("SELECT state, count(*) AS n FROM workers GROUP BY state")
    graphs = await pool.fetch(
        "SELECT DISTINCT unnest(graphs) AS graph_id FROM workers WHERE state = 'healthy' ORDER BY 1"
    )
    return {row["state"]: row["n"] for row in rows}, [row["graph_id"] for row in graphs]


async def list_all(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        """
        SELECT w.worker_id, w.language, w.version, w.host, w.pid, w.capacity, w.state,
               w.graphs, w.runtime, w.drain_requested, w.registered_at, w.last_heartbeat_at,
               extract(epoch FROM now() - w.last_heartbeat_at)::float8 AS seconds_since_heartbeat,
               (SELECT count(*) FROM runs r
                 WHERE r.worker_id = w.worker_id AND r.status = 'running')::int AS inflight
        FROM workers w
        ORDER BY w.state = 'dead', w.registered_at DESC
        """
    )
    return rows


async def request_drain(pool: asyncpg.Pool, worker_id: str) -> bool:
    """Flag a live worker to drain; its next heartbeat reply tells it."""
    flagged = await pool.fetchval(
        "UPDATE workers SET drain_requested = true WHERE worker_id = $1 AND state <> 'dead'"
        " RETURNING worker_id",
        worker_id,
    )
    return flagged is not None


def to_json(row: asyncpg.Record) -> dict[str, object]:
    return {
        "worker_id": row["worker_id"],
        "language": row["language"],
        "version": row["version"],
        "host": row["host"],
        "pid": row["pid"],
        "state": "draining" if row["drain_requested"] and row["state"] != "dead" else row["state"],
        "capacity": row["capacity"],
        "inflight": row["inflight"],
        "load": row["inflight"] / row["capacity"],
        "graphs": row["graphs"],
        "runtime": row["runtime"],
        "registered_at": row["registered_at"],
        "last_heartbeat_at": row["last_heartbeat_at"],
        "seconds_since_heartbeat": round(row["seconds_since_heartbeat"], 3),
    }
