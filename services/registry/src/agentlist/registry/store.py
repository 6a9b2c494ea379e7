"""The registry's Postgres IO: the transactions, over :mod:`queries` and the pure rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import asyncpg

from agentlist.contracts.workers import (
    GraphLoad,
    Heartbeat,
    PoolReport,
    PoolWorker,
    WorkerRegister,
)
from agentlist.registry import queries
from agentlist.registry.catalogue import rejected_graphs
from agentlist.registry.leases import WorkerView, held_keys
from agentlist.registry.queries import Released, SilentWorker


@dataclass(frozen=True)
class PoolView:
    """What the registry answers a pool, and the workers its report declared dead."""

    graphs: list[GraphLoad]
    workers: list[PoolWorker]
    released: Released


class Store(Protocol):
    """What the request handlers need from storage (a fake stands in for unit tests)."""

    async def register(
        self, msg: WorkerRegister, team: str, refused: dict[str, str]
    ) -> dict[str, str] | None: ...

    async def heartbeat(self, msg: Heartbeat, team: str, lease_seconds: float) -> WorkerView: ...

    async def pool_report(
        self, msg: PoolReport, team: str, graphs: list[str], workers: list[str], gone_after: float
    ) -> PoolView: ...


class RegistryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def register(
        self, msg: WorkerRegister, team: str, refused: dict[str, str]
    ) -> dict[str, str] | None:
        """Record ``team``'s worker and the graphs it may serve; returns the graphs it may not
        (``refused`` to its team among them), None if its id is another team's worker's."""
        graph_ids = [g.graph_id for g in msg.graphs]
        async with self._pool.acquire() as conn, conn.transaction():
            await queries.lock_register(conn)
            live = await queries.live_languages(conn, msg.worker_id, graph_ids)
            rejected = refused | rejected_graphs(msg.graphs, msg.language, live)
            served = [g for g in msg.graphs if g.graph_id not in rejected]
            if not await queries.upsert_worker(conn, msg, team, [g.graph_id for g in served]):
                return None
            if served:
                await queries.upsert_graphs(conn, served, msg.language)
                await queries.create_system_assistants(conn, served)
        return rejected

    async def heartbeat(self, msg: Heartbeat, team: str, lease_seconds: float) -> WorkerView:
        """Record the heartbeat of ``team``'s worker and renew the leases of the runs it still
        owns; a worker of another team is unknown to it."""
        keys = held_keys(msg.runs)
        async with self._pool.acquire() as conn, conn.transaction():
            if msg.stopping and not keys:
                await queries.forget(conn, msg.worker_id, team)
                return WorkerView(known=False)
            drain = await queries.heartbeat(conn, msg, team)
            if drain is None:
                owned = await queries.owned_runs(conn, msg.worker_id, keys)
            else:
                owned = await queries.renew_leases(conn, msg.worker_id, keys, lease_seconds)
        return WorkerView(known=drain is not None, drain=bool(drain), owned=owned)

    async def pool_report(
        self, msg: PoolReport, team: str, graphs: list[str], workers: list[str], gone_after: float
    ) -> PoolView:
        """Mark the workers the pool lost dead (its own team's only) and release their runs,
        record the pool, and read the load of ``graphs`` (those granted to ``team``) and the
        state of its ``workers``."""
        async with self._pool.acquire() as conn, conn.transaction():
            released = await queries.mark_lost(conn, msg.lost, team)
            await queries.record_pool(conn, msg, team, graphs, workers, gone_after)
            load = await queries.graph_load(conn, graphs) if graphs else []
            listed = await queries.pool_workers(conn, workers, team)
        return PoolView(graphs=load, workers=listed, released=released)

    async def silent_workers(self, seconds: float) -> list[SilentWorker]:
        return await queries.silent_workers(self._pool, seconds)

    async def mark_unhealthy(self, worker_id: str, silent_for: float) -> None:
        await queries.mark_unhealthy(self._pool, worker_id, silent_for)

    async def mark_dead(self, worker_id: str, silent_for: float) -> Released:
        return await queries.mark_dead(self._pool, worker_id, silent_for)

    async def forget_gone_pools(self) -> list[str]:
        return await queries.forget_gone_pools(self._pool)

    async def forget_dead(self, silent_for: float) -> list[str]:
        return await queries.forget_dead(self._pool, silent_for)
