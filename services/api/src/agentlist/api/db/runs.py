"""Runs: every SQL statement the API runs on them, each with the function that runs it.

The API creates runs and cancels them; the scheduler and the bridge move them on (their own
queries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import asyncpg

from agentlist.contracts.storage import ACTIVE_RUN_STATUSES, RunStatus
from agentlist.db.sql import ACTIVE_RUNS, Executor

_COLUMNS: Final = (
    "run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs, multitask_strategy,"
    " attempt, worker_id, error, created_at, updated_at, started_at, ended_at"
)


@dataclass(frozen=True)
class NewRun:
    run_id: UUID
    thread_id: UUID
    tenant_id: str
    assistant_id: UUID
    graph_id: str
    metadata: dict[str, Any]
    kwargs: dict[str, Any]
    multitask_strategy: str
    after_seconds: float
    on_completion: str
    webhook: str | None


@dataclass(frozen=True)
class Queued:
    row: asyncpg.Record | None
    """The new run; ``None`` when it was refused (``tenant_full``, or the thread has active
    runs and the request rejects that)."""
    active: list[UUID]
    """The thread's runs that were pending or running before it, oldest first."""
    tenant_full: bool = False
    """Refused because the tenant had as many runs in flight as it may."""


# One statement, run under the thread's lock (taken by an earlier statement, so that its
# snapshot holds every run committed before the lock was granted): the thread's active runs,
# the new run unless $12 refuses it next to them or the tenant already has $14 runs in flight
# (0: no cap), and the thread marked busy with the graph and assistant that ran it last ($13).
# The tenant's runs are counted up to the cap only, pending ones on ``runs_pending`` and
# running ones on a partial index of running runs (no more than the workers have slots); a
# cap of 0 counts nothing. Runs queued at the same moment on the tenant's other threads are
# not in this snapshot: the cap may be passed by as many as arrive together.
QUEUE: Final = f"""
WITH active AS (
    SELECT run_id, created_at FROM runs
    WHERE thread_id = $2 AND status IN {ACTIVE_RUNS}
), in_flight AS (
    SELECT $14::int > 0 AND count(*) >= $14::int AS at_cap FROM (
        (SELECT 1 FROM runs WHERE tenant_id = $3 AND status = 'pending' LIMIT $14::int)
        UNION ALL
        (SELECT 1 FROM runs WHERE tenant_id = $3 AND status = 'running' LIMIT $14::int)
    ) AS counted
), inserted AS (
    INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, metadata, kwargs,
                      multitask_strategy, on_completion, webhook, created_at, updated_at)
    SELECT $1::uuid, $2::uuid, $3::text, $4::uuid, $5::text, $6::jsonb, $7::jsonb, $8::text,
           $9::text, $10::text, now() + make_interval(secs => $11::float8), now()
    WHERE NOT ($12::bool AND EXISTS (SELECT 1 FROM active))
      AND NOT (SELECT at_cap FROM in_flight)
    RETURNING {_COLUMNS}
), busy AS (
    UPDATE threads
    SET status = 'busy', graph_id = $5, metadata = metadata || $13::jsonb, updated_at = now()
    WHERE thread_id = $2 AND EXISTS (SELECT 1 FROM inserted)
)
SELECT inserted.*, ARRAY(SELECT run_id FROM active ORDER BY created_at) AS active_runs,
       (SELECT at_cap FROM in_flight) AS tenant_full
FROM (SELECT 1) AS one LEFT JOIN inserted ON TRUE
"""


async def queue(
    conn: Executor,
    run: NewRun,
    *,
    reject_if_active: bool,
    thread_stamp: dict[str, Any],
    tenant_cap: int = 0,
) -> Queued:
    """Insert ``run`` as ``pending`` and mark its thread busy, in one round trip; the caller
    holds the thread's row lock (see ``QUEUE``). ``tenant_cap``: the runs in flight (pending
    or running) the tenant may have; 0: no cap."""
    row = await conn.fetchrow(
        QUEUE,
        run.run_id,
        run.thread_id,
        run.tenant_id,
        run.assistant_id,
        run.graph_id,
        run.metadata,
        run.kwargs,
        run.multitask_strategy,
        run.on_completion,
        run.webhook,
        run.after_seconds,
        reject_if_active,
        thread_stamp,
        tenant_cap,
    )
    assert row is not None  # the outer query always returns its one row
    inserted = row if row["run_id"] is not None else None
    return Queued(inserted, list(row["active_runs"]), tenant_full=row["tenant_full"])


GET: Final = f"SELECT {_COLUMNS} FROM runs WHERE run_id = $1 AND thread_id = $2 AND tenant_id = $3"


async def get(conn: Executor, tenant: str, thread_id: UUID, run_id: UUID) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(GET, run_id, thread_id, tenant)
    return row


STATUS: Final = "SELECT status FROM runs WHERE run_id = $1"


async def status(conn: Executor, run_id: UUID) -> RunStatus | None:
    value: RunStatus | None = await conn.fetchval(STATUS, run_id)
    return value


# The thread's active runs, oldest first.
ACTIVE_ON_THREAD: Final = f"""
SELECT run_id, status FROM runs WHERE thread_id = $1 AND status IN {ACTIVE_RUNS}
 ORDER BY created_at
"""


async def active_on_thread(conn: Executor, thread_id: UUID) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(ACTIVE_ON_THREAD, thread_id)
    return rows


@dataclass(frozen=True)
class Taken:
    """A pending run the API took over (as pseudo-worker) in order to cancel it."""

    thread_id: UUID
    attempt: int
    thread_values: Any
    thread_interrupts: dict[str, Any]


# The API takes a pending run over as the next attempt of the pseudo-worker $3, to end it in a
# worker's place (``agentlist.api.cancel``); with the thread values its outcome keeps.
#   $1 run, $2 cancel action, $3 pseudo-worker, $4 lease seconds, $5 the attempt's lease token.
TAKE_PENDING: Final = """
UPDATE runs r
SET status = 'running', attempt = r.attempt + 1, worker_id = $3, cancel_action = $2,
    lease_expires_at = now() + make_interval(secs => $4::float8), lease_token = $5,
    updated_at = now()
FROM threads t
WHERE r.run_id = $1 AND r.status = 'pending' AND t.thread_id = r.thread_id
RETURNING r.thread_id, r.attempt, t.state_values, t.interrupts
"""


async def take_pending_for_cancel(
    conn: Executor, run_id: UUID, action: str, worker_id: str, lease_seconds: float, token: str
) -> Taken | None:
    row = await conn.fetchrow(TAKE_PENDING, run_id, action, worker_id, lease_seconds, token)
    if row is None:
        return None
    return Taken(row["thread_id"], row["attempt"], row["state_values"], row["interrupts"])


# $1 run, $2 cancel action: heartbeat replies tell the run's worker.
FLAG_RUNNING: Final = """
UPDATE runs SET cancel_action = $2, updated_at = now()
 WHERE run_id = $1 AND status = 'running' RETURNING run_id
"""


async def flag_running_for_cancel(conn: Executor, run_id: UUID, action: str) -> bool:
    return await conn.fetchval(FLAG_RUNNING, run_id, action) is not None


# $1 thread, $2 status (NULL: any), $3 limit, $4 offset; the newest first.
LIST_FOR_THREAD: Final = f"""
SELECT {_COLUMNS} FROM runs WHERE thread_id = $1 AND ($2::text IS NULL OR status = $2)
 ORDER BY created_at DESC, run_id DESC LIMIT $3 OFFSET $4
"""


async def list_for_thread(
    conn: Executor, thread_id: UUID, *, limit: int, offset: int, status: str | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(LIST_FOR_THREAD, thread_id, status, limit, offset)
    return rows


FIND: Final = f"SELECT {_COLUMNS} FROM runs WHERE run_id = $1 AND tenant_id = $2"


async def find(conn: Executor, tenant: str, run_id: UUID) -> asyncpg.Record | None:
    """A run by id alone (stateless runs are addressed without their thread)."""
    row: asyncpg.Record | None = await conn.fetchrow(FIND, run_id, tenant)
    return row


# $1 run, $2 thread, $3 tenant.
# * target: the run, if it exists.
# * deleted: the run deleted unless it is active.
# The status it had says which it was.
DELETE_FINISHED: Final = f"""
WITH target AS (
    SELECT run_id, status FROM runs WHERE run_id = $1 AND thread_id = $2 AND tenant_id = $3
), deleted AS (
    DELETE FROM runs WHERE run_id IN (
        SELECT run_id FROM target WHERE status NOT IN {ACTIVE_RUNS})
)
SELECT status FROM target
"""


async def delete_finished(
    conn: Executor, tenant: str, thread_id: UUID, run_id: UUID
) -> RunStatus | None:
    """Delete a finished run. Returns its status, ``None`` if missing; active runs stay."""
    row = await conn.fetchrow(DELETE_FINISHED, run_id, thread_id, tenant)
    return row["status"] if row is not None else None


# $1 tenant, $2 text[] statuses: a client's choice, hence a parameter.
TENANT_RUNS_IN: Final = "SELECT run_id FROM runs WHERE tenant_id = $1 AND status = ANY($2::text[])"


async def active_ids(conn: Executor, tenant: str, status: str) -> list[UUID]:
    """Active runs of the tenant in ``pending``, ``running``, or ``all`` of them."""
    statuses = list(ACTIVE_RUN_STATUSES) if status == "all" else [status]
    rows = await conn.fetch(TENANT_RUNS_IN, tenant, statuses)
    return [row["run_id"] for row in rows]


# $1 tenant, $2 thread, $3 uuid[] runs: those of them that are active.
ACTIVE_AMONG: Final = f"""
SELECT run_id FROM runs WHERE tenant_id = $1 AND thread_id = $2
   AND run_id = ANY($3::uuid[]) AND status IN {ACTIVE_RUNS}
"""


async def active_among(
    conn: Executor, tenant: str, thread_id: UUID, run_ids: list[UUID]
) -> list[UUID]:
    rows = await conn.fetch(ACTIVE_AMONG, tenant, thread_id, run_ids)
    return [row["run_id"] for row in rows]
