"""Every SQL statement the scheduler runs, each with the function that runs it.

Lease times are judged by Postgres ``now()`` only; no statement takes a time from Python.
The callers own the transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import new_lease_token
from agentlist.db.sql import ACTIVE_RUNS, Executor
from agentlist.scheduler.leases import ExpiredLease
from agentlist.scheduler.placement import Candidate, WorkerLoad


@dataclass(frozen=True)
class StartedRun:
    """A run the claim just marked ``running`` on ``worker_id`` as ``attempt``."""

    run_id: UUID
    thread_id: UUID
    assistant_id: UUID
    graph_id: str
    tenant_id: str
    attempt: int
    worker_id: str
    team: str
    """The worker's team: its dispatch subject names it."""
    kwargs: Any
    lease_token: str = field(repr=False)
    """The attempt's secret, for its fence and its dispatch only."""


@dataclass(frozen=True)
class FinishingRun:
    """A run the finisher now owns as ``attempt``, with the thread values its outcome keeps."""

    run_id: UUID
    thread_id: UUID
    attempt: int
    cancel_action: str | None
    error: ErrorInfo | None
    thread_values: Any
    lease_token: str = field(repr=False)


# An arbitrary constant: claim transactions of every scheduler instance take it in turn, so the
# in-flight counts one of them reads include every placement committed before it.
PLACEMENT_LOCK_KEY: Final = 0x6167_6C73_6368  # "aglsch"

# Goes with the claim's BEGIN (``transaction_begun_with``): a statement of its own, before the
# one that reads the workers' load, whose snapshot must be taken once the lock is held.
LOCK_PLACEMENT: Final = f"SELECT pg_advisory_xact_lock({PLACEMENT_LOCK_KEY})"


@dataclass(frozen=True)
class PlacementView:
    """What one claim reads, in one statement: the healthy workers' load, the runs it may start
    (locked, in the order they should be placed) and when the next delayed run falls due."""

    workers: list[WorkerLoad]
    candidates: list[Candidate]
    next_due_in: float | None
    """Seconds until the earliest delayed run may start; None: no delayed run."""


# $1: seconds of heartbeat silence after which a worker gets no new runs; $2 int batch size.
# * healthy: the workers that may get runs, each with its runs running now.
# * capacity: the free slots of the workers serving each graph, an upper bound on what one claim
#   can place for that graph (a worker serving two graphs counts for both); batch: no more runs
#   than the batch size or the free slots of every worker together.
# * tenants: the distinct tenants with pending runs, by a loose index scan of runs_pending.
# * running: how many runs each tenant has running now.
# * eligible: per tenant and graph, its first startable runs (due; the oldest pending run of a
#   thread with no running run) by priority then age, no more than the graph's workers can
#   hold, so that runs of a full graph never crowd out the others; each ranked in its tenant
#   after the tenant's running runs (the run would be the tenant's n-th at once).
# * picked: ordering by the tenant rank first interleaves tenants: the first run of every
#   tenant comes before the second run of any, and a tenant with runs running waits behind
#   one with none, so one tenant's backlog never starves another tenant's single run, even
#   when slots free one at a time. A graph still gets no more than its free slots.
# * candidates: the picked runs still pending, locked (passing over those a cancel holds).
# The delay until the next delayed run rides along, so that an idle scheduler knows how long
# it may sleep without a statement of its own after every claim.
PLACEMENT_VIEW: Final = """
WITH RECURSIVE healthy AS (
    SELECT w.worker_id, w.capacity, w.graphs,
           (SELECT count(*) FROM runs r
             WHERE r.worker_id = w.worker_id AND r.status = 'running')::int AS inflight
      FROM workers w
     WHERE w.state = 'healthy'
       AND NOT w.drain_requested
       AND w.last_heartbeat_at > now() - make_interval(secs => $1)
),
capacity(graph_id, free) AS (
    SELECT g.graph_id, sum(greatest(h.capacity - h.inflight, 0))::int
      FROM healthy h CROSS JOIN unnest(h.graphs) AS g(graph_id)
     GROUP BY g.graph_id
    HAVING sum(greatest(h.capacity - h.inflight, 0)) > 0
),
batch(size) AS (
    SELECT least($2, coalesce(sum(greatest(capacity - inflight, 0)), 0))::int FROM healthy
),
tenants(tenant_id) AS (
    (SELECT tenant_id FROM runs WHERE status = 'pending' ORDER BY tenant_id LIMIT 1)
  UNION ALL
    SELECT (SELECT r.tenant_id FROM runs r
             WHERE r.status = 'pending' AND r.tenant_id > t.tenant_id
             ORDER BY r.tenant_id LIMIT 1)
      FROM tenants t
     WHERE t.tenant_id IS NOT NULL
),
running(tenant_id, n) AS (
    SELECT tenant_id, count(*) FROM runs WHERE status = 'running' GROUP BY tenant_id
),
eligible AS (
    SELECT c.run_id, c.graph_id, c.priority, c.created_at,
           row_number() OVER (PARTITION BY c.tenant_id
                              ORDER BY c.priority DESC, c.created_at, c.run_id)
             + coalesce((SELECT n FROM running WHERE running.tenant_id = t.tenant_id), 0)
             AS tenant_rank
      FROM tenants t
     CROSS JOIN batch b
     CROSS JOIN capacity cap
     CROSS JOIN LATERAL (
        SELECT r.run_id, r.tenant_id, r.graph_id, r.priority, r.created_at
          FROM runs r
         WHERE r.status = 'pending'
           AND r.tenant_id = t.tenant_id
           AND r.graph_id = cap.graph_id
           AND r.created_at <= now()
           AND NOT EXISTS (SELECT 1 FROM runs a
                            WHERE a.thread_id = r.thread_id AND a.status = 'running')
           AND NOT EXISTS (SELECT 1 FROM runs e
                            WHERE e.thread_id = r.thread_id AND e.status = 'pending'
                              AND (e.created_at, e.run_id) < (r.created_at, r.run_id))
         ORDER BY r.priority DESC, r.created_at, r.run_id
         LIMIT least(b.size, cap.free)
     ) c
     WHERE t.tenant_id IS NOT NULL
),
ranked AS (
    SELECT e.*,
           row_number() OVER (PARTITION BY e.graph_id
                              ORDER BY e.tenant_rank, e.priority DESC, e.created_at, e.run_id)
             AS graph_rank
      FROM eligible e
),
picked AS (
    SELECT r.run_id,
           row_number() OVER (ORDER BY r.tenant_rank, r.priority DESC, r.created_at, r.run_id)
             AS position
      FROM ranked r
      JOIN capacity c USING (graph_id)
     WHERE r.graph_rank <= c.free
     ORDER BY position
     LIMIT (SELECT size FROM batch)
),
candidates AS (
    SELECT run.run_id, run.graph_id, p.position
      FROM picked p
      JOIN runs run USING (run_id)
     WHERE run.status = 'pending'
     ORDER BY p.position
       FOR UPDATE OF run SKIP LOCKED
)
SELECT (SELECT coalesce(jsonb_agg(jsonb_build_object(
                    'worker_id', worker_id, 'capacity', capacity, 'inflight', inflight,
                    'graphs', graphs)), '[]'::jsonb)
          FROM healthy) AS workers,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(run_id, graph_id) ORDER BY position),
                        '[]'::jsonb)
          FROM candidates) AS candidates,
       (SELECT EXTRACT(EPOCH FROM min(created_at) - now())::float8
          FROM runs WHERE status = 'pending' AND created_at > now()) AS next_due_in
"""


async def placement_view(conn: Executor, suspect_after: float, batch_size: int) -> PlacementView:
    row = await conn.fetchrow(PLACEMENT_VIEW, suspect_after, batch_size)
    assert row is not None  # a SELECT without FROM returns one row
    workers = [
        WorkerLoad(
            worker_id=worker["worker_id"],
            capacity=worker["capacity"],
            inflight=worker["inflight"],
            graphs=frozenset(worker["graphs"]),
        )
        for worker in row["workers"]
    ]
    candidates = [Candidate(UUID(run_id), graph_id) for run_id, graph_id in row["candidates"]]
    return PlacementView(workers, candidates, row["next_due_in"])


# $1 uuid[] runs, $2 text[] their workers, $3 text[] their attempts' lease tokens,
# $4 lease seconds. The join reads each worker's team, whose subject the dispatch goes to; a
# run whose worker was forgotten since placement stays pending.
START_RUNS: Final = """
UPDATE runs r
   SET status = 'running',
       attempt = r.attempt + 1,
       worker_id = p.worker_id,
       lease_token = p.lease_token,
       lease_expires_at = now() + make_interval(secs => $4),
       started_at = now(),
       updated_at = now()
  FROM unnest($1::uuid[], $2::text[], $3::text[]) AS p(run_id, worker_id, lease_token)
  JOIN workers w ON w.worker_id = p.worker_id
 WHERE r.run_id = p.run_id AND r.status = 'pending'
RETURNING r.run_id, r.thread_id, r.assistant_id, r.graph_id, r.tenant_id, r.attempt,
          r.worker_id, w.team, r.kwargs, r.lease_token
"""


async def start_runs(
    conn: Executor, placed: Mapping[UUID, str], tokens: Mapping[UUID, str], lease_seconds: float
) -> list[StartedRun]:
    """``placed``: the worker of each run; ``tokens``: the lease token of its new attempt."""
    run_ids = list(placed)
    rows = await conn.fetch(
        START_RUNS,
        run_ids,
        [placed[run_id] for run_id in run_ids],
        [tokens[run_id] for run_id in run_ids],
        lease_seconds,
    )
    return [StartedRun(**dict(row)) for row in rows]


# Fenced: only the attempt this scheduler started, still on the worker it chose. The undone
# attempt's token goes with it: its fence, if already published, is believed by no bridge.
UNDO_START: Final = """
UPDATE runs
   SET status = 'pending', attempt = attempt - 1, worker_id = NULL, lease_expires_at = NULL,
       lease_token = NULL, updated_at = now()
 WHERE run_id = $1 AND attempt = $2 AND status = 'running' AND worker_id = $3
"""


async def undo_start(conn: Executor, run: StartedRun) -> None:
    await conn.execute(UNDO_START, run.run_id, run.attempt, run.worker_id)


# $1 int batch size.
EXPIRED_LEASES: Final = """
SELECT run_id, thread_id, attempt, worker_id, cancel_action, error, lease_token
  FROM runs
 WHERE status = 'running' AND lease_expires_at < now()
 ORDER BY lease_expires_at
 LIMIT $1
   FOR UPDATE SKIP LOCKED
"""


async def expired_leases(conn: Executor, batch_size: int) -> list[ExpiredLease]:
    return [ExpiredLease(**dict(row)) for row in await conn.fetch(EXPIRED_LEASES, batch_size)]


# $1 uuid[] runs whose lease expired (locked by this transaction).
REQUEUE: Final = """
UPDATE runs
   SET status = 'pending', worker_id = NULL, lease_expires_at = NULL, updated_at = now()
 WHERE run_id = ANY($1::uuid[]) AND status = 'running'
"""


async def requeue(conn: Executor, run_ids: list[UUID]) -> None:
    await conn.execute(REQUEUE, run_ids)


# $1 uuid[] runs whose outcome waits for a bridge (locked by this transaction), $2 lease seconds.
EXTEND_LEASES: Final = """
UPDATE runs
   SET lease_expires_at = now() + make_interval(secs => $2), updated_at = now()
 WHERE run_id = ANY($1::uuid[]) AND status = 'running'
"""


async def extend_leases(conn: Executor, run_ids: list[UUID], lease_seconds: float) -> None:
    await conn.execute(EXTEND_LEASES, run_ids, lease_seconds)


# Hand a run to the scheduler's finisher (see sweeper.finish): fenced on the attempt it had.
#   $1 run, $2 its current attempt, $3 the worker it had, $4 the finishing attempt,
#   $5 the finisher's id, $6 lease seconds, $7 error (jsonb, NULL for a cancel),
#   $8 a fresh lease token for the finishing attempt. Finishing the attempt the run already
#   has (publishing it again, or ending a run whose dispatch was unusable) keeps its token, so
#   that the messages are the same ones again.
FINISH: Final = """
UPDATE runs r
   SET attempt = $4, worker_id = $5, lease_expires_at = now() + make_interval(secs => $6),
       error = $7, updated_at = now(),
       lease_token = CASE WHEN r.attempt = $4 AND r.lease_token IS NOT NULL
                          THEN r.lease_token ELSE $8 END
  FROM threads t
 WHERE r.run_id = $1 AND r.attempt = $2 AND r.status = 'running'
   AND r.worker_id IS NOT DISTINCT FROM $3
   AND t.thread_id = r.thread_id
RETURNING r.run_id, r.thread_id, r.attempt, r.cancel_action, r.error, t.state_values,
          r.lease_token
"""


async def finish(
    conn: Executor,
    run_id: UUID,
    attempt: int,
    worker_id: str | None,
    finishing_attempt: int,
    finisher_id: str,
    lease_seconds: float,
    error: ErrorInfo | None,
) -> FinishingRun | None:
    """The parameters of ``FINISH``, in order. None: the run moved on."""
    dumped = error.model_dump(mode="json") if error else None
    row = await conn.fetchrow(
        FINISH,
        run_id,
        attempt,
        worker_id,
        finishing_attempt,
        finisher_id,
        lease_seconds,
        dumped,
        new_lease_token(),
    )
    if row is None:
        return None
    stored = row["error"]
    return FinishingRun(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        attempt=row["attempt"],
        cancel_action=row["cancel_action"],
        error=ErrorInfo.model_validate(stored) if stored else None,
        thread_values=row["state_values"],
        lease_token=row["lease_token"],
    )


# --- crons -----------------------------------------------------------------------------------

# $1 int batch size: due crons, locked so that one scheduler fires each tick.
DUE_CRONS: Final = """
SELECT cron_id, tenant_id, assistant_id, thread_id, schedule, timezone, run_template, metadata,
       end_time, next_run_date
  FROM crons
 WHERE enabled AND next_run_date <= now()
 ORDER BY next_run_date
 LIMIT $1
   FOR UPDATE SKIP LOCKED
"""


async def due_crons(conn: Executor, batch_size: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(DUE_CRONS, batch_size)
    return rows


# $1 cron, $2 next run date (NULL: the cron is over and is disabled).
ADVANCE_CRON: Final = """
UPDATE crons
   SET next_run_date = coalesce($2, next_run_date), enabled = enabled AND $2 IS NOT NULL,
       updated_at = now()
 WHERE cron_id = $1
"""


async def advance_cron(conn: Executor, cron_id: UUID, next_run_date: datetime | None) -> None:
    await conn.execute(ADVANCE_CRON, cron_id, next_run_date)


# $1 thread, $2 tenant, $3 metadata: the fresh thread of a stateless cron's run.
CRON_THREAD: Final = """
INSERT INTO threads (thread_id, tenant_id, graph_id, metadata, status)
VALUES ($1, $2, $3, $4, 'busy')
"""


async def insert_cron_thread(
    conn: Executor, thread_id: UUID, tenant_id: str, graph_id: str, metadata: dict[str, Any]
) -> None:
    await conn.execute(CRON_THREAD, thread_id, tenant_id, graph_id, metadata)


# $1 thread: whether it has a run pending or running (for multitask_strategy "reject").
THREAD_ACTIVE: Final = f"""
SELECT EXISTS (SELECT 1 FROM runs WHERE thread_id = $1 AND status IN {ACTIVE_RUNS})
"""


async def thread_active(conn: Executor, thread_id: UUID) -> bool:
    return bool(await conn.fetchval(THREAD_ACTIVE, thread_id))


CRON_RUN: Final = """
INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, metadata, kwargs,
                  multitask_strategy, on_completion, webhook)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""


async def insert_cron_run(
    conn: Executor,
    *,
    run_id: UUID,
    thread_id: UUID,
    tenant_id: str,
    assistant_id: UUID,
    graph_id: str,
    metadata: dict[str, Any],
    kwargs: dict[str, Any],
    multitask_strategy: str,
    on_completion: str,
    webhook: str | None,
) -> None:
    await conn.execute(
        CRON_RUN,
        run_id,
        thread_id,
        tenant_id,
        assistant_id,
        graph_id,
        metadata,
        kwargs,
        multitask_strategy,
        on_completion,
        webhook,
    )


MARK_THREAD_BUSY: Final = """
UPDATE threads
   SET status = 'busy', graph_id = $2,
       metadata = metadata || jsonb_build_object('graph_id', $2::text, 'assistant_id', $3::text),
       updated_at = now()
 WHERE thread_id = $1
"""


async def mark_thread_busy(
    conn: Executor, thread_id: UUID, graph_id: str, assistant_id: str
) -> None:
    await conn.execute(MARK_THREAD_BUSY, thread_id, graph_id, assistant_id)


# --- thread TTL ------------------------------------------------------------------------------

# $1 int batch size: idle threads past their TTL.
EXPIRED_THREADS: Final = """
SELECT thread_id, ttl_strategy, ttl_minutes
  FROM threads
 WHERE expires_at < now() AND status <> 'busy'
 ORDER BY expires_at
 LIMIT $1
   FOR UPDATE SKIP LOCKED
"""


async def expired_threads(conn: Executor, batch_size: int) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(EXPIRED_THREADS, batch_size)
    return rows


DELETE_THREAD: Final = "DELETE FROM threads WHERE thread_id = $1"


async def delete_thread(conn: Executor, thread_id: UUID) -> None:
    await conn.execute(DELETE_THREAD, thread_id)


# $1 thread: its TTL starts again after keep_latest pruned it.
RENEW_THREAD_TTL: Final = """
UPDATE threads SET expires_at = now() + make_interval(secs => ttl_minutes * 60) WHERE thread_id = $1
"""


async def renew_thread_ttl(conn: Executor, thread_id: UUID) -> None:
    await conn.execute(RENEW_THREAD_TTL, thread_id)
