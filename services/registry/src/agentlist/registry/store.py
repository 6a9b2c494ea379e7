"""The registry's Postgres IO: thin shells around :mod:`queries` and the pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg

from agentlist.contracts.ids import SYSTEM_TENANT, system_assistant_id
from agentlist.contracts.workers import GraphInfo, Heartbeat, WorkerRegister
from agentlist.registry import queries
from agentlist.registry.catalogue import (
    SYSTEM_METADATA,
    rejected_graphs,
    system_assistant_name,
)
from agentlist.registry.leases import WorkerView, held_keys


@dataclass(frozen=True)
class SilentWorker:
    worker_id: str
    state: str
    silence: float


class Store(Protocol):
    """What the request handlers need from storage (a fake stands in for unit tests)."""

    async def register(self, msg: WorkerRegister) -> dict[str, str]: ...

    async def heartbeat(self, msg: Heartbeat, lease_seconds: float) -> WorkerView: ...


class RegistryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def register(self, msg: WorkerRegister) -> dict[str, str]:
        """Record the worker and the graphs it may serve; returns the graphs it may not."""
        graph_ids = [g.graph_id for g in msg.graphs]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(queries.LOCK_REGISTER, queries.REGISTER_LOCK_KEY)
            rows = await conn.fetch(queries.LIVE_LANGUAGES, msg.worker_id, graph_ids)
            live = {row["graph_id"]: set(row["languages"]) for row in rows}
            rejected = rejected_graphs(msg.graphs, msg.language, live)
            served = [g for g in msg.graphs if g.graph_id not in rejected]
            await conn.execute(
                queries.UPSERT_WORKER,
                msg.worker_id,
                msg.language,
                msg.version,
                msg.host,
                msg.pid,
                msg.capacity,
                [g.graph_id for g in served],
                msg.runtime,
            )
            await _record_graphs(conn, served, msg.language)
        return rejected

    async def heartbeat(self, msg: Heartbeat, lease_seconds: float) -> WorkerView:
        """Record the heartbeat and renew the leases of the runs the worker still owns."""
        keys = held_keys(msg.runs)
        run_ids = [run_id for run_id, _ in keys]
        attempts = [attempt for _, attempt in keys]
        async with self._pool.acquire() as conn, conn.transaction():
            drain = await conn.fetchval(
                queries.HEARTBEAT, msg.worker_id, msg.capacity, msg.draining
            )
            if drain is None:
                rows = await conn.fetch(queries.OWNED_RUNS, msg.worker_id, run_ids, attempts)
            else:
                rows = await conn.fetch(
                    queries.RENEW_LEASES, msg.worker_id, run_ids, attempts, lease_seconds
                )
        owned = {(row["run_id"], row["attempt"]): row["cancel_action"] for row in rows}
        return WorkerView(known=drain is not None, drain=bool(drain), owned=owned)

    async def silent_workers(self, seconds: float) -> list[SilentWorker]:
        rows = await self._pool.fetch(queries.SILENT_WORKERS, seconds)
        return [SilentWorker(**dict(row)) for row in rows]

    async def mark_unhealthy(self, worker_id: str, silent_for: float) -> None:
        await self._pool.execute(queries.MARK_UNHEALTHY, worker_id, silent_for)

    async def mark_dead(self, worker_id: str, silent_for: float) -> None:
        await self._pool.execute(queries.MARK_DEAD, worker_id, silent_for)


async def _record_graphs(conn: queries.Connection, graphs: list[GraphInfo], language: str) -> None:
    if not graphs:
        return
    await conn.executemany(
        queries.UPSERT_GRAPH,
        [
            (
                g.graph_id,
                language,
                g.name,
                g.description,
                g.schemas.model_dump(mode="json"),
                g.drawable,
                {ns: schemas.model_dump(mode="json") for ns, schemas in g.subgraphs.items()},
            )
            for g in graphs
        ],
    )
    await conn.executemany(
        queries.CREATE_SYSTEM_ASSISTANT,
        [
            (
                system_assistant_id(g.graph_id),
                SYSTEM_TENANT,
                g.graph_id,
                system_assistant_name(g),
                g.description,
                SYSTEM_METADATA,
            )
            for g in graphs
        ],
    )
