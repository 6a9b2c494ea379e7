"""Every SQL statement the registry runs. Times are Postgres ``now()`` only."""

from __future__ import annotations

from typing import Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

# An arbitrary constant: registrations take it in turn, so two workers of different languages
# registering the same graph at once cannot both get it.
REGISTER_LOCK_KEY: Final = 0x6167_6C72_6567  # "aglreg"

LOCK_REGISTER: Final = "SELECT pg_advisory_xact_lock($1)"

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

UPSERT_WORKER: Final = """
INSERT INTO workers (worker_id, language, version, host, pid, capacity, state, graphs, runtime,
                     last_heartbeat_at)
VALUES ($1, $2, $3, $4, $5, $6, 'healthy', $7::text[], $8, now())
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
"""

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

# $1 worker, $2 capacity, $3 draining. No row: unknown or dead.
HEARTBEAT: Final = """
UPDATE workers
   SET last_heartbeat_at = now(),
       capacity = $2,
       state = CASE WHEN $3 OR drain_requested THEN 'draining' ELSE 'healthy' END
 WHERE worker_id = $1 AND state <> 'dead'
RETURNING drain_requested
"""

# $1 worker, $2 uuid[] held runs, $3 int[] their attempts, $4 lease seconds.
RENEW_LEASES: Final = """
UPDATE runs r
   SET lease_expires_at = now() + make_interval(secs => $4)
  FROM unnest($2::uuid[], $3::int[]) AS h(run_id, attempt)
 WHERE r.run_id = h.run_id AND r.attempt = h.attempt
   AND r.status = 'running' AND r.worker_id = $1
RETURNING r.run_id, r.attempt, r.cancel_action
"""

# The same, read only (for a worker that is no longer known).
OWNED_RUNS: Final = """
SELECT r.run_id, r.attempt, r.cancel_action
  FROM runs r
  JOIN unnest($2::uuid[], $3::int[]) AS h(run_id, attempt)
    ON r.run_id = h.run_id AND r.attempt = h.attempt
 WHERE r.status = 'running' AND r.worker_id = $1
"""

# $1 seconds of silence.
SILENT_WORKERS: Final = """
SELECT worker_id, state, EXTRACT(EPOCH FROM now() - last_heartbeat_at)::float8 AS silence
  FROM workers
 WHERE state <> 'dead' AND last_heartbeat_at < now() - make_interval(secs => $1)
"""

# Fenced on the silence still being there (a heartbeat may have arrived since the read).
MARK_UNHEALTHY: Final = """
UPDATE workers SET state = 'unhealthy'
 WHERE worker_id = $1 AND state = 'healthy'
   AND last_heartbeat_at < now() - make_interval(secs => $2)
"""

MARK_DEAD: Final = """
UPDATE workers SET state = 'dead'
 WHERE worker_id = $1 AND state <> 'dead'
   AND last_heartbeat_at < now() - make_interval(secs => $2)
"""
