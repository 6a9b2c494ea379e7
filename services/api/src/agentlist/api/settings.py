"""An API instance's settings (``AGENTLIST_API_<FIELD>``; ``HOST`` and ``PORT`` as the seed names
them), read once by ``main()``."""

from __future__ import annotations

from pydantic import Field
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
    """Run creations a tenant may make per second at one API instance (0: no limit)."""
    run_burst_per_tenant: int = Field(default=100, ge=1)
    """How many run creations a tenant may make at once before its rate applies."""
    trust_tenant_header: bool = False
    """Take the tenant from ``X-Tenant-Id`` (set by a trusted gateway in front of the API)."""
    db_pool_size: int = Field(default=20, ge=2)
    redis_pool_size: int = Field(default=500, ge=2)
    """Each open SSE stream holds one Redis connection while it blocks on ``XREAD``."""
    keep_alive_seconds: int = Field(default=75, ge=1)
    """How long an idle client connection stays open. Longer than clients keep theirs (httpx,
    under the SDKs: 5 s; load balancers: 60 s), so that the client always closes first: a
    server closing as a request arrives resets it."""
