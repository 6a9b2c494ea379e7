"""The registry's settings (``AGENTLIST_REGISTRY_<FIELD>``), read once by ``main()``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agentlist.core.settings import ControlPlaneSettings


class RegistrySettings(ControlPlaneSettings):
    """Liveness of workers; when a silent one becomes suspect is the mesh's
    ``unhealthy_after_missed``, shared with the scheduler."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_REGISTRY_")

    dead_after_seconds: float = Field(default=15.0, gt=0)
    """A worker silent this long is ``dead``: its next heartbeat is answered ``known: false``."""
    forget_dead_after_seconds: float = Field(default=600.0, gt=0)
    """A worker dead (silent) this long leaves ``/workers`` and ``/health``: a stopped worker,
    every restart of ``agentlist dev`` included, is not listed for ever."""
    pool_gone_after_seconds: float = Field(default=10.0, gt=0)
    """A worker pool that has not reported for this long is gone from ``/workers``, ``/ui``
    and the metrics (a pool reports every fraction of a second)."""
    liveness_sweep_interval: float = Field(default=1.0, gt=0)
    ping_timeout: float = Field(default=0.5, gt=0)
    pool_size: int = Field(default=5, ge=2)
    teams_file: Path | None = None
    """The worker teams and their graphs (``contracts.access.TEAMS_FILE``); unset, only the
    stack's own workers (the ``worker`` role) may register."""
