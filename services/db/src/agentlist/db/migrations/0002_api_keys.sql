-- API keys for service accounts (x-api-key), managed with `agentlist keys`. Only a hash of each
-- key's secret is kept: the key itself is shown once, when it is created.

CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    tenant_id     text NOT NULL,
    name          text NOT NULL DEFAULT '',
    scopes        text[] NOT NULL DEFAULT '{}',
    secret_sha256 bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);
