"""Settings bases, read once by each process's ``main()`` and passed down.

Three kinds of names, so that no two services read one variable by accident:

* the seed's: ``NATS_URL``, ``DATABASE_URL``, ``REDIS_URL``, ``DEBUG`` (and the API's ``PORT``);
* ``AGENTLIST_<FIELD>`` for what every service of one mesh must agree on (heartbeat interval,
  lease, retention): one value, read by all, on purpose;
* ``AGENTLIST_<SERVICE>_<FIELD>`` for everything else: each service class sets its own
  ``env_prefix``, such as ``AGENTLIST_SCHEDULER_`` (``AGENTLIST_SCHEDULER_POOL_SIZE``).
"""

from __future__ import annotations

from typing import Final

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MESH_PREFIX: Final = "AGENTLIST_"


def mesh_wide(field: str) -> str:
    """The variable of a setting the whole mesh shares, whatever the service's prefix."""
    return f"{MESH_PREFIX}{field.upper()}"


class ProcessSettings(BaseSettings):
    """What every AgentList process reads, the workers included."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias="NATS_URL")
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres", validation_alias="DATABASE_URL"
    )
    debug: str = Field(default="", validation_alias="DEBUG")
    """Logger namespaces to log at debug level, e.g. ``agentlist:*`` or ``agentlist:bridge``."""
    log_level: str = Field(default="INFO", validation_alias=mesh_wide("log_level"))


class MeshSettings(ProcessSettings):
    """Where the control plane's servers are, and what its services must agree on."""

    redis_url: str = Field(default="redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    heartbeat_interval: float = Field(
        default=2.0, gt=0, validation_alias=mesh_wide("heartbeat_interval")
    )
    """Seconds between worker heartbeats."""
    unhealthy_after_missed: int = Field(
        default=3, ge=1, validation_alias=mesh_wide("unhealthy_after_missed")
    )
    """A worker silent for this many heartbeat intervals gets no new runs from the scheduler,
    and the registry pings it; unanswered, it is ``unhealthy``."""
    lease_seconds: float = Field(default=10.0, gt=0, validation_alias=mesh_wide("lease_seconds"))
    """How long a heartbeat keeps a worker's runs leased (judged by Postgres ``now()``)."""
    stream_retention_seconds: int = Field(
        default=600, ge=1, validation_alias=mesh_wide("stream_retention_seconds")
    )
    """How long a finished run's event stream stays replayable."""
    events_max_age_seconds: float = Field(
        default=86_400, gt=0, validation_alias=mesh_wide("events_max_age_seconds")
    )
    """How long JetStream keeps run events (Redis streams can be rebuilt from them)."""
    events_replicas: int = Field(
        default=1, ge=1, le=5, validation_alias=mesh_wide("events_replicas")
    )
    """Copies of the run events stream in a NATS cluster (3 on Kubernetes' three servers)."""
    default_tenant: str = Field(default="default", validation_alias=mesh_wide("default_tenant"))
    graphs_config: str | None = Field(default=None, validation_alias=mesh_wide("graphs_config"))
    """The langgraph.json whose server sections apply (``http``, ``webhooks``, ``store``...)."""

    @property
    def suspect_after(self) -> float:
        """Seconds of heartbeat silence after which a worker is suspect: not placed on, pinged."""
        return self.heartbeat_interval * self.unhealthy_after_missed


class ProbedSettings(BaseSettings):
    """A process with health probes on a port of its own (:mod:`agentlist.core.health`)."""

    health_port: int | None = Field(default=None, ge=0, le=65535)
    """None: no probes served (``agentlist dev`` watches its processes itself)."""
    health_host: str = "127.0.0.1"
    """``0.0.0.0`` in a container, where the prober calls from outside."""


class ControlPlaneSettings(MeshSettings, ProbedSettings):
    """A service of the control plane (scheduler, registry, bridge): it waits for Postgres and
    NATS with the same backoff. Read with the service's own prefix, like its other fields."""

    pool_size: int = Field(default=8, ge=2)
    """Postgres connections held at most."""
    max_backoff: float = Field(default=5.0, gt=0)
    """Longest pause between retries while Postgres or NATS is unreachable."""
