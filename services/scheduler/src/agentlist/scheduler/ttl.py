"""Thread TTLs: an idle thread past its time is deleted, or pruned to its latest checkpoint
(``keep_latest``) and given a fresh TTL."""

from __future__ import annotations

import asyncpg

from agentlist.db.checkpoints import delete_thread_checkpoints, keep_latest_checkpoints
from agentlist.scheduler import queries


async def sweep_threads(pool: asyncpg.Pool, batch_size: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        expired = await queries.expired_threads(conn, batch_size)
        for thread in expired:
            thread_id = thread["thread_id"]
            if thread["ttl_strategy"] == "keep_latest":
                await keep_latest_checkpoints(conn, str(thread_id))
                await queries.renew_thread_ttl(conn, thread_id)
            else:
                await queries.delete_thread(conn, thread_id)
                await delete_thread_checkpoints(conn, str(thread_id))
    return len(expired)
