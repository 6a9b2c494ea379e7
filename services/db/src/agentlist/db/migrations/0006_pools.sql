-- Worker pools (`agentlist pool`): each reports to the registry every fraction of a second what
-- it runs and wants; the registry keeps the last report of each, for operators (/metrics,
-- /workers, /ui). A pool belongs to the team whose credentials it reported with (the registry
-- reads it from the subject), so two teams may name their pools alike. A pool silent past
-- `gone_at` is gone: every read skips it and the registry's sweeper deletes it.
CREATE TABLE pools (
    team        text NOT NULL,
    pool_id     text NOT NULL,
    graphs      text[] NOT NULL DEFAULT '{}',
    minimum     integer NOT NULL CHECK (minimum >= 0),
    maximum     integer NOT NULL CHECK (maximum >= 1),
    target      integer NOT NULL CHECK (target >= 0),
    size        integer NOT NULL CHECK (size >= 0),
    workers     text[] NOT NULL DEFAULT '{}',
    reason      text NOT NULL DEFAULT '',
    reported_at timestamptz NOT NULL DEFAULT now(),
    gone_at     timestamptz NOT NULL,
    PRIMARY KEY (team, pool_id)
);
CREATE INDEX pools_gone ON pools (gone_at);

-- No tenant owns a pool (like workers and graphs): no row-level security, the grants are the
-- boundary. The registry records and forgets pools; the API only reads them.
GRANT SELECT, INSERT, UPDATE, DELETE ON pools TO agentlist_registry;
GRANT SELECT ON pools TO agentlist_api;

-- Each graph's load, counts only, never a row: runs waiting for a worker (due, and not queued
-- behind a running run of their thread), runs running, and the run slots of the healthy
-- workers serving it that are not asked to drain. p_graphs: those graphs (each listed, zeros
-- for one nobody knows); NULL: every graph registered or with active runs. The API reads it
-- across tenants for operators; the registry answers pools with it. SECURITY DEFINER as the
-- gauges of 0004_roles_and_rls.sql, with search_path pinned.
CREATE FUNCTION agentlist_graph_load(p_graphs text[])
    RETURNS TABLE (graph_id text, pending bigint, running bigint, healthy_capacity bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    WITH active AS (
        SELECT r.graph_id,
               count(*) FILTER (
                   WHERE r.status = 'pending' AND r.created_at <= now()
                     AND NOT EXISTS (SELECT 1 FROM public.runs a
                                      WHERE a.thread_id = r.thread_id AND a.status = 'running')
               ) AS pending,
               count(*) FILTER (WHERE r.status = 'running') AS running
          FROM public.runs r
         WHERE r.status IN ('pending', 'running')
           AND (p_graphs IS NULL OR r.graph_id = ANY (p_graphs))
         GROUP BY r.graph_id
    ),
    capacity AS (
        SELECT g.graph_id, sum(w.capacity) AS healthy_capacity
          FROM public.workers w
         CROSS JOIN LATERAL unnest(w.graphs) AS g(graph_id)
         WHERE w.state = 'healthy' AND NOT w.drain_requested
           AND (p_graphs IS NULL OR g.graph_id = ANY (p_graphs))
         GROUP BY g.graph_id
    ),
    listed AS (
        SELECT k.graph_id FROM public.graphs k WHERE p_graphs IS NULL
        UNION SELECT unnest(p_graphs)
        UNION SELECT a.graph_id FROM active a
        UNION SELECT c.graph_id FROM capacity c
    )
    SELECT l.graph_id, coalesce(a.pending, 0), coalesce(a.running, 0),
           coalesce(c.healthy_capacity, 0)::bigint
      FROM listed l
      LEFT JOIN active a ON a.graph_id = l.graph_id
      LEFT JOIN capacity c ON c.graph_id = l.graph_id
     ORDER BY l.graph_id
$$;

REVOKE ALL ON FUNCTION agentlist_graph_load(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentlist_graph_load(text[]) TO agentlist_api, agentlist_registry;
