"""Mesh-wide gauges read from Postgres: every API instance reports the same picture."""

from __future__ import annotations

from typing import Any

import asyncpg


async def snapshot(pool: asyncpg.Pool) -> dict[str, Any]:
    runs = await pool.fetch(
        "SELECT status, graph_id, count(*) AS n FROM runs"
        " WHERE status IN ('pending', 'running') GROUP BY status, graph_id"
    )
    oldest = await pool.fetchval(
        "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " FROM runs WHERE status = 'pending' AND created_at <= now()"
    )
    workers = await pool.fetch(
        "SELECT state, language, count(*) AS n, coalesce(sum(capacity), 0) AS capacity"
        " FROM workers GROUP BY state, language"
    )
    return {
        "runs": [dict(row) for row in runs],
        "oldest_pending_seconds": oldest,
        "workers": [dict(row) for row in workers],
    }
