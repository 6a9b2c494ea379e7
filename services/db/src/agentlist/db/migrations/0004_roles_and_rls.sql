-- Each service connects as a role of its own, with the rights its queries need and no more;
-- the tenants' rows are guarded by row-level security as well as by every query's filter.
--
-- Run by the owner (who runs `agentlist migrate`: a superuser, or a role with CREATEROLE and
-- BYPASSRLS). Roles belong to the cluster, grants to a database, so the roles are made only if
-- absent and the rest applies to this database. They are NOLOGIN here: `agentlist migrate`
-- gives each its password and LOGIN, so that no password is ever in a file of the history.
-- No role is a superuser, bypasses RLS, creates databases or roles, or owns a table: none may
-- ALTER, DROP or TRUNCATE what it uses. LangGraph's own tables (checkpoints, store) are made by
-- LangGraph's setup, also run by `agentlist migrate`, which grants them (agentlist.db.roles).
--
-- Row-level security, ENABLEd and FORCEd on every table with a tenant_id:
-- * agentlist_api acts for one tenant at a time. Its transactions set `app.tenant_id` (SET
--   LOCAL semantics, agentlist.api.db.tenancy); its policies show and accept only that
--   tenant's rows, plus, to read, the assistants of the system tenant '__system__'
--   (agentlist.contracts.ids.SYSTEM_TENANT), which only an operator's transaction
--   (`app.operator` = 'on') may change. No tenant set: no rows, not even those. The few
--   reads it makes before a tenant is known, or across tenants for operators, are the
--   SECURITY DEFINER functions below, each answering one narrow question.
-- * agentlist_scheduler, agentlist_bridge and agentlist_registry never act for a tenant: they
--   claim, move on and finish runs of every tenant, and the run's row is what names its tenant.
--   They get policies of their own that pass every row (USING (true)), on the tables they use
--   only, while their table grants limit what they may do there. This is the "equivalent" of
--   a SECURITY DEFINER claim function: the claim is a plan of several statements under a
--   transaction-scoped lock (agentlist.scheduler.claim) that a function could only wrap whole,
--   and wrapping it would let whoever may call it do everything it does; the role is already
--   that narrow boundary, and a leak through these roles needs a forged identity, which
--   passwords per role now refuse. The registry may only add assistants of the system tenant.
-- * agentlist_worker reaches no table of this file: only LangGraph's.

DO $$
DECLARE
    service text;
BEGIN
    FOREACH service IN ARRAY ARRAY['agentlist_api', 'agentlist_scheduler', 'agentlist_registry',
                                   'agentlist_bridge', 'agentlist_worker'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = service) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', service);
        END IF;
        EXECUTE format(
            'ALTER ROLE %I NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION'
            ' NOINHERIT', service);
    END LOOP;
END
$$;

-- Nobody but the owner creates objects here (PUBLIC could, before PostgreSQL 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO agentlist_api, agentlist_scheduler, agentlist_registry,
    agentlist_bridge, agentlist_worker;

-- Services only check that the schema is at their version; the owner applies it.
GRANT SELECT ON agentlist_migrations TO agentlist_api, agentlist_scheduler, agentlist_registry,
    agentlist_bridge, agentlist_worker;

-- api: its tenants' assistants, threads, runs and crons; the catalogue; drains.
GRANT SELECT, INSERT, UPDATE, DELETE ON assistants, assistant_versions, threads, runs, crons
    TO agentlist_api;
GRANT SELECT ON workers, graphs TO agentlist_api;
GRANT UPDATE (drain_requested) ON workers TO agentlist_api;

-- scheduler: claims, leases, finishing, crons, thread TTLs.
GRANT SELECT, INSERT, UPDATE ON runs TO agentlist_scheduler;
GRANT SELECT, INSERT, UPDATE, DELETE ON threads TO agentlist_scheduler;
GRANT SELECT, UPDATE ON crons TO agentlist_scheduler;
GRANT SELECT ON workers TO agentlist_scheduler;

-- registry: workers and graphs; leases renewed by heartbeats; one system assistant per graph.
GRANT SELECT, INSERT, UPDATE, DELETE ON workers TO agentlist_registry;
GRANT SELECT, INSERT, UPDATE ON graphs TO agentlist_registry;
GRANT SELECT, UPDATE ON runs TO agentlist_registry;
GRANT SELECT, INSERT ON assistants, assistant_versions TO agentlist_registry;

-- bridge: fences and outcomes, thread state, stateless threads deleted, the webhook outbox.
GRANT SELECT, UPDATE, DELETE ON runs, threads TO agentlist_bridge;
GRANT SELECT, INSERT, UPDATE ON webhook_deliveries TO agentlist_bridge;

ALTER TABLE assistants ENABLE ROW LEVEL SECURITY;
ALTER TABLE assistants FORCE ROW LEVEL SECURITY;
ALTER TABLE assistant_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE assistant_versions FORCE ROW LEVEL SECURITY;
ALTER TABLE threads ENABLE ROW LEVEL SECURITY;
ALTER TABLE threads FORCE ROW LEVEL SECURITY;
ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs FORCE ROW LEVEL SECURITY;
ALTER TABLE crons ENABLE ROW LEVEL SECURITY;
ALTER TABLE crons FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys FORCE ROW LEVEL SECURITY;

CREATE POLICY api_tenant ON threads TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY api_tenant ON runs TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY api_tenant ON crons TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

CREATE POLICY api_read_shared ON assistants FOR SELECT TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR (tenant_id = '__system__' AND current_setting('app.tenant_id', true) <> ''));
CREATE POLICY api_tenant ON assistants TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR (tenant_id = '__system__' AND current_setting('app.operator', true) = 'on'))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
                OR (tenant_id = '__system__' AND current_setting('app.operator', true) = 'on'));
CREATE POLICY api_read_shared ON assistant_versions FOR SELECT TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR (tenant_id = '__system__' AND current_setting('app.tenant_id', true) <> ''));
CREATE POLICY api_tenant ON assistant_versions TO agentlist_api
    USING (tenant_id = current_setting('app.tenant_id', true)
           OR (tenant_id = '__system__' AND current_setting('app.operator', true) = 'on'))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true)
                OR (tenant_id = '__system__' AND current_setting('app.operator', true) = 'on'));

CREATE POLICY scheduler_all ON runs TO agentlist_scheduler USING (true) WITH CHECK (true);
CREATE POLICY scheduler_all ON threads TO agentlist_scheduler USING (true) WITH CHECK (true);
CREATE POLICY scheduler_all ON crons TO agentlist_scheduler USING (true) WITH CHECK (true);

CREATE POLICY bridge_all ON runs TO agentlist_bridge USING (true) WITH CHECK (true);
CREATE POLICY bridge_all ON threads TO agentlist_bridge USING (true) WITH CHECK (true);
CREATE POLICY bridge_all ON webhook_deliveries TO agentlist_bridge
    USING (true) WITH CHECK (true);

CREATE POLICY registry_all ON runs TO agentlist_registry USING (true) WITH CHECK (true);
CREATE POLICY registry_system ON assistants TO agentlist_registry
    USING (tenant_id = '__system__') WITH CHECK (tenant_id = '__system__');
CREATE POLICY registry_system ON assistant_versions TO agentlist_registry
    USING (tenant_id = '__system__') WITH CHECK (tenant_id = '__system__');

-- The API's questions that cross tenants, each answering no more than it must. SECURITY
-- DEFINER: they run as the owner, whom RLS does not restrict; search_path is pinned so that
-- no object of a caller's making is found first.

-- An API key by id, before its tenant is known (agentlist.api.auth.keys): a revoked key is
-- not found.
CREATE FUNCTION agentlist_live_api_key(p_key_id text)
    RETURNS TABLE (key_id text, tenant_id text, scopes text[], secret_sha256 bytea)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT k.key_id, k.tenant_id, k.scopes, k.secret_sha256 FROM public.api_keys k
     WHERE k.key_id = p_key_id AND k.revoked_at IS NULL
$$;

-- Whether a thread exists for any tenant: asked only after a caller was told it does not, to
-- audit a denial apart from a typo.
CREATE FUNCTION agentlist_thread_exists(p_thread_id uuid)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT EXISTS (SELECT 1 FROM public.threads t WHERE t.thread_id = p_thread_id)
$$;

-- Operators' gauges: counts only, never a row.
CREATE FUNCTION agentlist_active_runs_by_graph()
    RETURNS TABLE (status text, graph_id text, n bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT r.status, r.graph_id, count(*) FROM public.runs r
     WHERE r.status IN ('pending', 'running') GROUP BY r.status, r.graph_id
$$;

CREATE FUNCTION agentlist_oldest_pending_seconds()
    RETURNS double precision
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT coalesce(extract(epoch FROM now() - min(r.created_at)), 0)::float8
      FROM public.runs r WHERE r.status = 'pending' AND r.created_at <= now()
$$;

CREATE FUNCTION agentlist_running_by_worker()
    RETURNS TABLE (worker_id text, n integer)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
    SELECT r.worker_id, count(*)::int FROM public.runs r
     WHERE r.status = 'running' GROUP BY r.worker_id
$$;

REVOKE ALL ON FUNCTION agentlist_live_api_key(text), agentlist_thread_exists(uuid),
    agentlist_active_runs_by_graph(), agentlist_oldest_pending_seconds(),
    agentlist_running_by_worker() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentlist_live_api_key(text), agentlist_thread_exists(uuid),
    agentlist_active_runs_by_graph(), agentlist_oldest_pending_seconds(),
    agentlist_running_by_worker() TO agentlist_api;
