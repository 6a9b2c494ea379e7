"""An API instance's settings (``AGENTLIST_API_<FIELD>``; ``HOST`` and ``PORT`` as the seed names
them), read once by ``main()``."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from agentlist.core.settings import MeshSettings


class ApiSettings(MeshSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTLIST_API_")

    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8080, validation_alias="PORT")
    sse_heartbeat_seconds: float = Field(default=5.0, gt=0)
    """Idle SSE streams get a ``: heartbeat`` comment, and waits a newline, this often."""
    state_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a thread-state request waits for a worker serving the graph."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    runs_per_second_per_tenant: float = Field(default=0.0, ge=0)
    """Run creations a tenant may make per second, over every API instance (0: no limit)."""
    run_burst_per_tenant: int = Field(default=100, ge=1)
    """How many run creations a tenant may make at once before its rate applies."""
    auth_enabled: bool = Field(default=False, validation_alias="AUTH_ENABLED")
    """Built-in authentication: JWTs (``JWT_SECRET`` or a JWKS URL) and API keys."""
    jwt_secret: SecretStr | None = Field(default=None, validation_alias="JWT_SECRET")
    """The HS256 key of the JWTs callers present (at least 32 bytes)."""
    jwks_url: str | None = None
    """Where the public keys of RS256/ES256 JWTs are published (by ``kid``)."""
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    """How long fetched public keys are kept; an unknown ``kid`` refetches at most this often."""
    jwt_algorithms: tuple[str, ...] = ()
    """Accepted algorithms (default: HS256 with a secret, RS256 and ES256 with a JWKS)."""
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    jwt_tenant_claim: str = "tenant"
    jwt_permissions_claim: str = "permissions"
    """A list of permissions; the standard space-separated ``scope`` claim is read as well."""
    operator_scope: str = "operator"
    """The permission that opens the operators' routes (workers, drains, metrics detail)."""
    api_key_cache_seconds: float = Field(default=5.0, ge=0)
    """How long an API key's lookup is reused: a revoked key stops working within this."""
    gateway_secret: SecretStr | None = None
    """A gateway in front of the API authenticates callers and sets ``X-Tenant-Id``: it proves
    itself with ``X-Gateway-Secret`` set to this (compared in constant time)."""
    allow_open: bool = False
    """Serve without authentication on a non-loopback address (never the default)."""
    db_pool_size: int = Field(default=20, ge=2)
    redis_pool_size: int = Field(default=500, ge=2)
    """Each open SSE stream holds one Redis connection while it blocks on ``XREAD``."""
    keep_alive_seconds: int = Field(default=75, ge=1)
    """How long an idle client connection stays open. Longer than clients keep theirs (httpx,
    under the SDKs: 5 s; load balancers: 60 s), so that the client always closes first: a
    server closing as a request arrives resets it."""
    runs_in_flight_per_tenant: int = Field(default=0, ge=0)
    """Runs a tenant may have pending or running at once, over all instances (0: no cap)."""
    sse_streams_per_tenant: int = Field(default=0, ge=0)
    """SSE streams a tenant may hold open at one API instance (0: no cap)."""
    max_recursion_limit: int = Field(default=1000, ge=1)
    """The highest ``config.recursion_limit`` a run may ask for."""
    max_batch_runs: int = Field(default=100, ge=1)
    """The most runs one ``POST /runs/batch`` may create."""
