"""Settings fragments, read once by each service's ``main()`` and passed down.

The names an operator sets are the seed's: ``DATABASE_URL``, ``REDIS_URL``, ``NATS_URL``,
``DEBUG``; everything AgentList-specific is prefixed ``AGENTLIST_``.
"""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MeshSettings(BaseSettings):
    """Where the servers are, and what every service of one mesh must agree on."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_", extra="ignore", frozen=True)

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "AGENTLIST_NATS_URL"),
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias=AliasChoices("DATABASE_URL", "AGENTLIST_DATABASE_URL"),
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "AGENTLIST_REDIS_URL"),
    )
    debug: str = Field(default="", validation_alias=AliasChoices("DEBUG", "AGENTLIST_DEBUG"))
    """Logger namespaces to log at debug level, e.g. ``agentlist:*`` or ``agentlist:bridge``."""
    log_level: str = "INFO"

    heartbeat_interval: float = Field(default=2.0, gt=0)
    """Seconds between worker heartbeats."""
    lease_seconds: float = Field(default=10.0, gt=0)
    """How long a heartbeat keeps a worker's runs leased (judged by Postgres ``now()``)."""
    stream_retention_seconds: int = Field(default=600, ge=1)
    """How long a finished run's event stream stays replayable."""
    events_max_age_seconds: float = Field(default=86_400, gt=0)
    """How long JetStream keeps run events (Redis streams can be rebuilt from them)."""
    default_tenant: str = "default"
    graphs_config: str | None = None
    """The langgraph.json whose server sections apply (``http``, ``webhooks``, ``store``...)."""
