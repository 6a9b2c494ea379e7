"""The registry's settings, read once by ``main()``."""

from __future__ import annotations

from pydantic import Field

from agentlist.core.settings import MeshSettings


class RegistrySettings(MeshSettings):
    """Liveness of workers (``AGENTLIST_<FIELD>`` in the environment)."""

    unhealthy_after_missed: int = Field(default=3, ge=1)
    """A worker silent for this many heartbeat intervals is pinged; unanswered, it is
    ``unhealthy`` (the scheduler's setting of the same name stops placing on it then)."""
    dead_after_seconds: float = Field(default=15.0, gt=0)
    """A worker silent this long is ``dead``: its next heartbeat is answered ``known: false``."""
    liveness_sweep_interval: float = Field(default=1.0, gt=0)
    ping_timeout: float = Field(default=0.5, gt=0)
    max_backoff: float = Field(default=5.0, gt=0)
    """Longest pause between retries while Postgres or NATS is unreachable."""
    pool_size: int = Field(default=5, ge=1)

    @property
    def suspect_after(self) -> float:
        return self.heartbeat_interval * self.unhealthy_after_missed
