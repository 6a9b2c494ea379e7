"""The SQL both workers run on LangGraph's checkpoint tables to roll a run back (a cancel with
action ``rollback``): one text for Python and TypeScript.

The contract: each statement is PostgreSQL with its native ``$1, $2`` placeholders, so the
Python worker (psycopg's raw cursor, :mod:`agentlist.worker.queries`) and the JS worker (pg,
``services/worker-js/src/rollback.ts``) send the same text; a leading ``--`` comment says why
it is so and what each parameter is. The workers own the transactions. ``contracts/export.py``
writes :func:`all_statements` to ``schema/rollback-sql.json``, and the JS worker's
``src/generated/rollback-sql.ts`` is generated from that file.
"""

from __future__ import annotations

from typing import Final

BASELINE: Final = """
-- Taken before a run starts. $1 thread_id.
-- Checkpoint ids are time-ordered (uuid6), so writes a run can add to older checkpoints are on
-- the thread's latest root checkpoint or its subgraphs' (written after it). The baseline in one
-- round trip: that checkpoint's id (no row: the thread has none), with a row per write since
-- (one row with the write columns NULL: no write since).
WITH latest AS (
    SELECT checkpoint_id FROM checkpoints
    WHERE thread_id = $1 AND checkpoint_ns = ''
    ORDER BY checkpoint_id DESC LIMIT 1
)
SELECT l.checkpoint_id AS since, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx
FROM latest l
LEFT JOIN checkpoint_writes w
  ON w.thread_id = $1 AND w.checkpoint_id >= l.checkpoint_id
"""

WRITES_SINCE: Final = """
-- $1 thread_id, $2 the baseline's checkpoint_id: the writes now where the baseline looked.
SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes
WHERE thread_id = $1 AND checkpoint_id >= $2
"""

DELETE_RUN_CHECKPOINTS: Final = """
-- $1 thread_id, $2 run_id: the checkpoints a run made carry its id in their metadata.
DELETE FROM checkpoints
WHERE thread_id = $1 AND metadata->>'run_id' = $2
RETURNING checkpoint_ns, checkpoint_id
"""

DELETE_WRITES_OF: Final = """
-- $1 text[] namespaces, $2 text[] ids (pairwise: the checkpoints deleted), $3 thread_id:
-- the pending writes of those checkpoints, in one statement however many there are.
DELETE FROM checkpoint_writes AS w
USING unnest($1::text[], $2::text[]) AS gone(ns, id)
WHERE w.thread_id = $3 AND w.checkpoint_ns = gone.ns AND w.checkpoint_id = gone.id
"""

DELETE_WRITE: Final = """
-- $1 thread_id, $2 checkpoint_ns, $3 checkpoint_id, $4 task_id, $5 idx: one write the run
-- added to a checkpoint it did not create (not in the baseline).
DELETE FROM checkpoint_writes
WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 AND task_id = $4 AND idx = $5
"""


def all_statements() -> dict[str, str]:
    """Every statement by name, for ``rollback-sql.json`` (and the TypeScript worker)."""
    return {
        "BASELINE": BASELINE,
        "WRITES_SINCE": WRITES_SINCE,
        "DELETE_RUN_CHECKPOINTS": DELETE_RUN_CHECKPOINTS,
        "DELETE_WRITES_OF": DELETE_WRITES_OF,
        "DELETE_WRITE": DELETE_WRITE,
    }
