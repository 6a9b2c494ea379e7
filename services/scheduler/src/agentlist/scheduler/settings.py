"""The scheduler's settings (``AGENTLIST_SCHEDULER_<FIELD>``), read once by ``main()``."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agentlist.core.settings import ControlPlaneSettings


class SchedulerSettings(ControlPlaneSettings):
    """Claiming, dispatching, lease sweeping, crons and thread TTLs."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_SCHEDULER_")

    batch_size: int = Field(default=100, ge=1)
    """Most runs claimed by one transaction."""
    poll_interval: float = Field(default=1.0, gt=0)
    """Claim at least this often even without a ``runs.requested`` wake-up."""
    dispatch_timeout: float = Field(default=2.0, gt=0)
    """How long a worker has to accept or reject a dispatch before the lease decides."""
    max_attempts: int = Field(default=3, ge=1)
    """Attempts a run gets before a lost worker ends it with ``error``."""
    lease_sweep_interval: float = Field(default=1.0, gt=0)
    cron_interval: float = Field(default=1.0, gt=0)
    """How often due crons are looked for."""
    ttl_sweep_interval: float = Field(default=30.0, gt=0)
    """How often threads past their TTL are deleted or pruned."""
