"""Every SQL statement the registry runs, each with the function that runs it. Times are
Postgres ``now()`` only. The callers own the transactions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

import asyncpg

from agentlist.contracts.ids import SYSTEM_TENANT, system_assistant_id
from agentlist.contracts.workers import (
    GraphInfo,
    GraphLoad,
    Heartbeat,
    PoolReport,
    PoolWorker,
    WorkerRegister,
)
from agentlist.db.sql import Executor
from agentlist.registry.catalogue import SYSTEM_METADATA, system_assistant_name
from agentlist.registry.leases import HeldKey, RunKey


@dataclass(frozen=True)
class SilentWorker:
    worker_id: str
    team: str
    state: str
    silence: float


# An arbitrary constant: registrations take it in turn, so two workers of different languages
# registering the same graph at once cannot both get it.
REGISTER_LOCK_KEY: Final = 0x6167_6C72_6567  # "aglreg"

LOCK_REGISTER: Final = "SELECT pg_advisory_xact_lock($1)"


async def lock_register(conn: Executor) -> None:
    await conn.execute(LOCK_REGISTER, REGISTER_LOCK_KEY)


# $1 the registering worker, $2 text[] its graph ids.
LIVE_LANGUAGES: Final = """
SELECT g.graph_id, array_agg(DISTINCT w.language) AS languages
  FROM workers w
 CROSS JOIN LATERAL unnest(w.graphs) AS g(graph_id)
 WHERE w.state <> 'dead'
   AND w.worker_id <> $1
   AND w.graphs && $2::text[]
   AND g.graph_id = ANY($2::text[])
 GROUP BY g.graph_id
"""


async def live_languages(
    conn: Executor, worker_id: str, graph_ids: list[str]
) -> dict[str, set[str]]:
    """The languages of the other live workers serving each of ``graph_ids``."""
    rows = await conn.fetch(LIVE_LANGUAGES, worker_id, graph_ids)
    return {row["graph_id"]: set(row["languages"]) for row in rows}


UPSERT_WORKER: Final = """
INSERT INTO workers (worker_id, language, version, host, pid, capacity, state, graphs, runtime,
                     team, last_heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, 'healthy', $7::text[], $8, $9, now())
ON CONFLICT (worker_id) DO UPDATE
   SET language = EXCLUDED.language,
       version = EXCLUDED.version,
       host = EXCLUDED.host,
       pid = EXCLUDED.pid,
       capacity = EXCLUDED.capacity,
       state = CASE WHEN workers.drain_requested THEN 'draining' ELSE 'healthy' END,
       graphs = EXCLUDED.graphs,
       runtime = EXCLUDED.runtime,
       last_heartbeat_at = now()
 WHERE workers.team = EXCLUDED.team
RETURNING worker_id
"""


async def upsert_worker(
    conn: Executor, msg: WorkerRegister, team: str, graph_ids: list[str]
) -> bool:
    """``graph_ids``: the graphs of ``msg`` the worker may serve. False: the id is taken by a
    worker of another team, which this one may not replace."""
    recorded = await conn.fetchval(
        UPSERT_WORKER,
        msg.worker_id,
        msg.language,
        msg.version,
        msg.host,
        msg.pid,
        msg.capacity,
        graph_ids,
        msg.runtime,
        team,
    )
    return recorded is not None


UPSERT_GRAPH: Final = """
INSERT INTO graphs (graph_id, language, name, description, schemas, drawable, subgraphs)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (graph_id) DO UPDATE
   SET language = EXCLUDED.language,
       name = EXCLUDED.name,
       description = EXCLUDED.description,
       schemas = EXCLUDED.schemas,
       drawable = EXCLUDED.drawable,
       subgraphs = EXCLUDED.subgraphs,
       updated_at = now()
"""


async def upsert_graphs(conn: Executor, graphs: Iterable[GraphInfo], language: str) -> None:
    await conn.executemany(
        UPSERT_GRAPH,
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


# A graph's system assistant, version 1, once: a restarted or second worker changes nothing.
#   $1 assistant id, $2 tenant, $3 graph id, $4 name, $5 description, $6 metadata.
CREATE_SYSTEM_ASSISTANT: Final = """
WITH created AS (
    INSERT INTO assistants (assistant_id, tenant_id, graph_id, name, description, metadata,
                            version)
    VALUES ($1, $2, $3, $4, $5, $6, 1)
    ON CONFLICT (assistant_id) DO NOTHING
    RETURNING assistant_id, tenant_id, graph_id, name, description, config, context, metadata
)
INSERT INTO assistant_versions (assistant_id, version, tenant_id, graph_id, name, description,
                                config, context, metadata)
SELECT assistant_id, 1, tenant_id, graph_id, name, description, config, context, metadata
  FROM created
ON CONFLICT DO NOTHING
"""


async def create_system_assistants(conn: Executor, graphs: Iterable[GraphInfo]) -> None:
    await conn.executemany(
        CREATE_SYSTEM_ASSISTANT,
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


# $1 worker, $2 capacity, $3 draining, $4 its team. No row: unknown, dead or another team's.
HEARTBEAT: Final = """
UPDATE workers
   SET last_heartbeat_at = now(),
       capacity = $2,
       state = CASE WHEN $3 OR drain_requested THEN 'draining' ELSE 'healthy' END
 WHERE worker_id = $1 AND state <> 'dead' AND team = $4
RETURNING drain_requested
"""


async def heartbeat(conn: Executor, msg: Heartbeat, team: str) -> bool | None:
    """Whether the worker is asked to drain; None: the worker is unknown or dead."""
    drain: bool | None = await conn.fetchval(
        HEARTBEAT, msg.worker_id, msg.capacity, msg.draining, team
    )
    return drain


# $1 worker, $2 uuid[] held runs, $3 int[] their attempts, $4 lease seconds, $5 text[] the
# lease tokens presented: a heartbeat naming a run without its attempt's token renews nothing.
RENEW_LEASES: Final = """
UPDATE runs r
   SET lease_expires_at = now() + make_interval(secs => $4)
  FROM unnest($2::uuid[], $3::int[], $5::text[]) AS h(run_id, attempt, token)
 WHERE r.run_id = h.run_id AND r.attempt = h.attempt AND r.lease_token = h.token
   AND r.status = 'running' AND r.worker_id = $1
RETURNING r.run_id, r.attempt, r.cancel_action
"""


async def renew_leases(
    conn: Executor, worker_id: str, held: Sequence[HeldKey], lease_seconds: float
) -> dict[RunKey, str | None]:
    """The held runs the worker owns, with their ``cancel_action``; their leases renewed."""
    run_ids, attempts, tokens = _columns(held)
    rows = await conn.fetch(RENEW_LEASES, worker_id, run_ids, attempts, lease_seconds, tokens)
    return _owned(rows)


# The same, read only (for a worker that is no longer known).
OWNED_RUNS: Final = """
SELECT r.run_id, r.attempt, r.cancel_action
  FROM runs r
  JOIN unnest($2::uuid[], $3::int[], $4::text[]) AS h(run_id, attempt, token)
    ON r.run_id = h.run_id AND r.attempt = h.attempt AND r.lease_token = h.token
 WHERE r.status = 'running' AND r.worker_id = $1
"""


async def owned_runs(
    conn: Executor, worker_id: str, held: Sequence[HeldKey]
) -> dict[RunKey, str | None]:
    run_ids, attempts, tokens = _columns(held)
    return _owned(await conn.fetch(OWNED_RUNS, worker_id, run_ids, attempts, tokens))


def _columns(held: Sequence[HeldKey]) -> tuple[list[UUID], list[int], list[str | None]]:
    return (
        [run_id for (run_id, _), _ in held],
        [attempt for (_, attempt), _ in held],
        [token for _, token in held],
    )


def _owned(rows: Iterable[asyncpg.Record]) -> dict[RunKey, str | None]:
    return {(row["run_id"], row["attempt"]): row["cancel_action"] for row in rows}


# $1 seconds of silence.
SILENT_WORKERS: Final = """
SELECT worker_id, team, state, EXTRACT(EPOCH FROM now() - last_heartbeat_at)::float8 AS silence
  FROM workers
 WHERE state <> 'dead' AND last_heartbeat_at < now() - make_interval(secs => $1)
"""


async def silent_workers(conn: Executor, seconds: float) -> list[SilentWorker]:
    return [SilentWorker(**dict(row)) for row in await conn.fetch(SILENT_WORKERS, seconds)]


# Fenced on the silence still being there (a heartbeat may have arrived since the read).
MARK_UNHEALTHY: Final = """
UPDATE workers SET state = 'unhealthy'
 WHERE worker_id = $1 AND state = 'healthy'
   AND last_heartbeat_at < now() - make_interval(secs => $2)
"""


async def mark_unhealthy(conn: Executor, worker_id: str, silent_for: float) -> None:
    await conn.execute(MARK_UNHEALTHY, worker_id, silent_for)


# A dead worker renews no lease: its running runs' leases end now, in the statement that marks
# it dead, so that the scheduler's next sweep sends them to their next attempt (fenced by a new
# lease token) instead of waiting for them to lapse. ``dead``: the workers this statement
# marked; the runs whose lease it ended are counted.
_RELEASE_RUNS_OF_DEAD: Final = """
released AS (
    UPDATE runs r SET lease_expires_at = now()
      FROM dead
     WHERE r.worker_id = dead.worker_id AND r.status = 'running' AND r.lease_expires_at > now()
    RETURNING r.run_id
)
SELECT coalesce((SELECT array_agg(worker_id ORDER BY worker_id) FROM dead), '{}') AS dead,
       (SELECT count(*) FROM released) AS released
"""

# $1 worker, $2 seconds of silence: fenced on the silence still being there.
MARK_DEAD: Final = (
    """
WITH dead AS (
    UPDATE workers SET state = 'dead'
     WHERE worker_id = $1 AND state <> 'dead'
       AND last_heartbeat_at < now() - make_interval(secs => $2)
    RETURNING worker_id
),"""
    + _RELEASE_RUNS_OF_DEAD
)


@dataclass(frozen=True)
class Released:
    dead: list[str]
    """The workers marked dead."""
    runs: int
    """Running runs of theirs whose lease ended."""


async def mark_dead(conn: Executor, worker_id: str, silent_for: float) -> Released:
    return _released(await conn.fetchrow(MARK_DEAD, worker_id, silent_for))


# $1 text[] workers a pool saw exit, $2 the pool's team: only its own team's live workers die;
# another team's, or an id nobody has, are left as they are.
MARK_LOST: Final = (
    """
WITH dead AS (
    UPDATE workers SET state = 'dead'
     WHERE worker_id = ANY ($1::text[]) AND team = $2 AND state <> 'dead'
    RETURNING worker_id
),"""
    + _RELEASE_RUNS_OF_DEAD
)


async def mark_lost(conn: Executor, worker_ids: list[str], team: str) -> Released:
    if not worker_ids:  # most reports lose no one: no statement for them
        return Released(dead=[], runs=0)
    return _released(await conn.fetchrow(MARK_LOST, worker_ids, team))


def _released(row: asyncpg.Record | None) -> Released:
    if row is None:
        return Released(dead=[], runs=0)
    return Released(dead=list(row["dead"]), runs=row["released"])


# $1 worker, $2 its team (a worker of another team cannot sign this one off).
FORGET: Final = "DELETE FROM workers WHERE worker_id = $1 AND team = $2"


async def forget(conn: Executor, worker_id: str, team: str) -> None:
    """A worker that said it stops, holding nothing: no record of it is left behind."""
    await conn.execute(FORGET, worker_id, team)


# $1 seconds of silence. A run still naming one of them goes back to the queue by its lease.
FORGET_DEAD: Final = """
DELETE FROM workers
 WHERE state = 'dead' AND last_heartbeat_at < now() - make_interval(secs => $1)
RETURNING worker_id
"""


async def forget_dead(conn: Executor, silent_for: float) -> list[str]:
    """Delete the workers dead and silent for ``silent_for`` seconds; returns their ids."""
    return [row["worker_id"] for row in await conn.fetch(FORGET_DEAD, silent_for)]


# A pool's last report. $1 team, $2 pool, $3 text[] its graphs (those granted to the team),
# $4 minimum, $5 maximum, $6 target, $7 text[] its live workers, $8 reason, $9 seconds after
# which a silent pool is gone.
RECORD_POOL: Final = """
INSERT INTO pools (team, pool_id, graphs, minimum, maximum, target, size, workers, reason,
                   reported_at, gone_at)
VALUES ($1, $2, $3::text[], $4, $5, $6, cardinality($7::text[]), $7::text[], $8, now(),
        now() + make_interval(secs => $9))
ON CONFLICT (team, pool_id) DO UPDATE
   SET graphs = EXCLUDED.graphs,
       minimum = EXCLUDED.minimum,
       maximum = EXCLUDED.maximum,
       target = EXCLUDED.target,
       size = EXCLUDED.size,
       workers = EXCLUDED.workers,
       reason = EXCLUDED.reason,
       reported_at = EXCLUDED.reported_at,
       gone_at = EXCLUDED.gone_at
"""


async def record_pool(
    conn: Executor,
    msg: PoolReport,
    team: str,
    graphs: list[str],
    workers: list[str],
    gone_after: float,
) -> None:
    await conn.execute(
        RECORD_POOL,
        team,
        msg.pool_id,
        graphs,
        msg.minimum,
        msg.maximum,
        msg.target,
        workers,
        msg.reason,
        gone_after,
    )


# Pools silent past their ``gone_at``.
FORGET_GONE_POOLS: Final = """
DELETE FROM pools WHERE gone_at < now()
RETURNING team || '/' || pool_id AS pool
"""


async def forget_gone_pools(conn: Executor) -> list[str]:
    """Delete the pools gone silent; returns them as ``team/pool``."""
    return [row["pool"] for row in await conn.fetch(FORGET_GONE_POOLS)]


# $1 text[] graphs (migrations/0006_pools.sql).
GRAPH_LOAD: Final = """
SELECT graph_id, pending, running, healthy_capacity FROM agentlist_graph_load($1::text[])
"""


async def graph_load(conn: Executor, graphs: list[str]) -> list[GraphLoad]:
    return [GraphLoad(**dict(row)) for row in await conn.fetch(GRAPH_LOAD, graphs)]


# $1 text[] worker ids, $2 their team: another team's worker is absent, as an unknown one.
POOL_WORKERS: Final = """
SELECT w.worker_id, w.state, w.capacity,
       (SELECT count(*) FROM runs r
         WHERE r.worker_id = w.worker_id AND r.status = 'running')::int AS inflight
  FROM workers w
 WHERE w.worker_id = ANY ($1::text[]) AND w.team = $2
 ORDER BY w.worker_id
"""


async def pool_workers(conn: Executor, worker_ids: list[str], team: str) -> list[PoolWorker]:
    return [PoolWorker(**dict(row)) for row in await conn.fetch(POOL_WORKERS, worker_ids, team)]
