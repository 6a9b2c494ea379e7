-- The mesh's own tables. LangGraph's checkpoint and store tables are created by the workers'
-- checkpointer (langgraph-checkpoint-postgres) in the same database.
-- Every tenant-owned row carries tenant_id and every query filters by it.

CREATE TABLE assistants (
    assistant_id uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    graph_id     text NOT NULL,
    name         text NOT NULL,
    description  text,
    config       jsonb NOT NULL DEFAULT '{}',
    context      jsonb NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assistants_tenant_created ON assistants (tenant_id, created_at DESC);
CREATE INDEX assistants_graph ON assistants (graph_id);
CREATE INDEX assistants_metadata ON assistants USING gin (metadata jsonb_path_ops);

CREATE TABLE assistant_versions (
    assistant_id uuid NOT NULL REFERENCES assistants ON DELETE CASCADE,
    version      integer NOT NULL,
    tenant_id    text NOT NULL,
    graph_id     text NOT NULL,
    name         text NOT NULL,
    description  text,
    config       jsonb NOT NULL DEFAULT '{}',
    context      jsonb NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assistant_id, version)
);

CREATE TABLE threads (
    thread_id        uuid PRIMARY KEY,
    tenant_id        text NOT NULL,
    graph_id         text,
    metadata         jsonb NOT NULL DEFAULT '{}',
    config           jsonb NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'idle'
                     CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    state_values     jsonb,
    interrupts       jsonb NOT NULL DEFAULT '{}',
    error            jsonb,
    ttl_minutes      double precision,
    ttl_strategy     text CHECK (ttl_strategy IN ('delete', 'keep_latest')),
    expires_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    state_updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX threads_tenant_created ON threads (tenant_id, created_at DESC);
CREATE INDEX threads_metadata ON threads USING gin (metadata jsonb_path_ops);
CREATE INDEX threads_expiry ON threads (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE runs (
    run_id             uuid PRIMARY KEY,
    thread_id          uuid NOT NULL REFERENCES threads ON DELETE CASCADE,
    tenant_id          text NOT NULL,
    assistant_id       uuid NOT NULL,
    graph_id           text NOT NULL,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'success', 'error', 'timeout',
                                         'interrupted')),
    metadata           jsonb NOT NULL DEFAULT '{}',
    kwargs             jsonb NOT NULL,
    multitask_strategy text NOT NULL DEFAULT 'enqueue',
    priority           integer NOT NULL DEFAULT 0,
    attempt            integer NOT NULL DEFAULT 0,
    worker_id          text,
    lease_expires_at   timestamptz,
    cancel_action      text CHECK (cancel_action IN ('interrupt', 'rollback')),
    on_completion      text NOT NULL DEFAULT 'keep' CHECK (on_completion IN ('keep', 'delete')),
    webhook            text,
    error              jsonb,
    -- created_at is when the run may start: creation time plus after_seconds.
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    ended_at           timestamptz
);
-- The claim walks pending runs per tenant and graph, oldest first within a priority.
CREATE INDEX runs_pending ON runs (tenant_id, graph_id, priority DESC, created_at, run_id)
    WHERE status = 'pending';
CREATE INDEX runs_thread ON runs (thread_id, created_at);
CREATE INDEX runs_thread_active ON runs (thread_id) WHERE status IN ('pending', 'running');
CREATE INDEX runs_worker_running ON runs (worker_id) WHERE status = 'running';
CREATE INDEX runs_lease ON runs (lease_expires_at) WHERE status = 'running';

CREATE TABLE workers (
    worker_id         text PRIMARY KEY,
    language          text NOT NULL,
    version           text NOT NULL,
    host              text NOT NULL,
    pid               integer,
    capacity          integer NOT NULL CHECK (capacity > 0),
    state             text NOT NULL DEFAULT 'healthy'
                      CHECK (state IN ('healthy', 'unhealthy', 'draining', 'dead')),
    graphs            text[] NOT NULL DEFAULT '{}',
    runtime           jsonb NOT NULL DEFAULT '{}',
    drain_requested   boolean NOT NULL DEFAULT false,
    registered_at     timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_graphs ON workers USING gin (graphs);

CREATE TABLE graphs (
    graph_id      text PRIMARY KEY,
    language      text NOT NULL,
    name          text,
    description   text,
    schemas       jsonb NOT NULL DEFAULT '{}',
    drawable      jsonb NOT NULL DEFAULT '{}',
    subgraphs     jsonb NOT NULL DEFAULT '{}',
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE crons (
    cron_id         uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    assistant_id    uuid NOT NULL,
    thread_id       uuid REFERENCES threads ON DELETE CASCADE,
    schedule        text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    payload         jsonb NOT NULL DEFAULT '{}',
    -- The run each tick creates, prepared by the API; the scheduler fills in run and thread ids.
    run_template    jsonb NOT NULL DEFAULT '{}',
    metadata        jsonb NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    on_run_completed text NOT NULL DEFAULT 'delete' CHECK (on_run_completed IN ('keep', 'delete')),
    end_time        timestamptz,
    next_run_date   timestamptz,
    user_id         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crons_due ON crons (next_run_date) WHERE enabled;
CREATE INDEX crons_tenant_created ON crons (tenant_id, created_at DESC);

-- Webhook deliveries: an outbox written with the run's final status, sent by the bridges.
CREATE TABLE webhook_deliveries (
    run_id          uuid PRIMARY KEY,
    tenant_id       text NOT NULL,
    url             text NOT NULL,
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL;
