"""The effect ledger: a Postgres table where test graphs record each execution of a step, the
side effect that "exactly once" is about.

A row per execution, keyed by ``(run_id, step)`` but not unique on it: a step that a later
attempt re-runs from the last checkpoint is a second row, so the tests can count replays. Each
execution has an ``effect_id`` of its own, so an insert retried through a Postgres outage (its
commit acknowledged or not) is still one row.

Graphs write to the stack's database (``DATABASE_URL``, which every worker has, as its role);
the tests create the table first (:data:`SCHEMA`) and read it back.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any, Final

import psycopg
from langchain_core.runnables import RunnableConfig

SCHEMA: Final = """
SELECT pg_advisory_xact_lock(hashtext('test_ledger'));
CREATE SCHEMA IF NOT EXISTS test_ledger;
CREATE TABLE IF NOT EXISTS test_ledger.effects (
    effect_id uuid PRIMARY KEY,
    run_id uuid NOT NULL,
    thread_id uuid NOT NULL,
    step text NOT NULL,
    attempt int NOT NULL,
    pid int NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS effects_run_step ON test_ledger.effects (run_id, step);
CREATE INDEX IF NOT EXISTS effects_thread ON test_ledger.effects (thread_id);
GRANT USAGE ON SCHEMA test_ledger TO agentlist_worker;
GRANT SELECT, INSERT ON test_ledger.effects TO agentlist_worker;
"""
"""Run in one transaction by the owner, once the mesh's roles exist (the graphs write as the
worker's role, ``agentlist_worker``); the lock lets concurrent stacks on one database create it
once."""

INSERT: Final = """
INSERT INTO test_ledger.effects (effect_id, run_id, thread_id, step, attempt, pid)
VALUES (%(effect_id)s, %(run_id)s, %(thread_id)s, %(step)s, %(attempt)s, %(pid)s)
ON CONFLICT (effect_id) DO NOTHING
"""

OUTAGE_PATIENCE = 90.0
"""How long an execution waits for Postgres to take its row (the fault tests restart it)."""

_connections: dict[asyncio.AbstractEventLoop, psycopg.AsyncConnection[Any]] = {}
"""One connection per worker process (and event loop): a connect per step would cost more CPU
than the step in the scale tests."""


def attempt_of(config: RunnableConfig) -> int:
    return int((config.get("metadata") or {}).get("run_attempt") or 0)


async def _connection() -> psycopg.AsyncConnection[Any]:
    loop = asyncio.get_running_loop()
    connection = _connections.get(loop)
    if connection is None or connection.closed:
        connection = await psycopg.AsyncConnection.connect(
            os.environ["DATABASE_URL"], autocommit=True, connect_timeout=5
        )
        _connections[loop] = connection
    return connection


async def record_effect(config: RunnableConfig, step: str) -> dict[str, Any]:
    """Record one execution of ``step`` of this run; returns what was recorded."""
    configurable = config.get("configurable") or {}
    effect = {
        "effect_id": uuid.uuid4(),
        "run_id": uuid.UUID(str(configurable["run_id"])),
        "thread_id": uuid.UUID(str(configurable["thread_id"])),
        "step": step,
        "attempt": attempt_of(config),
        "pid": os.getpid(),
    }
    deadline = time.monotonic() + OUTAGE_PATIENCE
    while True:
        try:
            connection = await _connection()
            await connection.execute(INSERT, effect)
            return effect
        except psycopg.OperationalError:
            broken = _connections.pop(asyncio.get_running_loop(), None)
            if broken is not None:
                await broken.close()
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.25)
