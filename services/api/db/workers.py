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
