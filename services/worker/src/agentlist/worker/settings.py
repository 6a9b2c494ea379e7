"""The worker's settings, read once by the entry point and passed down."""

from __future__ import annotations

import re
import secrets
import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agentlist.contracts.access import team_of_user
from agentlist.core.nats import url_user
from agentlist.core.settings import ProbedSettings, ProcessSettings

_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")


def new_worker_id() -> str:
    """``py-<host>-<8 hex>``: unique per process and usable as one NATS subject token."""
    host = _NOT_TOKEN.sub("-", socket.gethostname()).strip("-")[:32] or "host"
    return f"py-{host}-{secrets.token_hex(4)}"


class WorkerSettings(ProcessSettings, ProbedSettings):
    """``AGENTLIST_WORKER_<FIELD>`` (``AGENTLIST_WORKER_CAPACITY``, ``AGENTLIST_WORKER_ID``...),
    beside the seed's ``NATS_URL``, ``DATABASE_URL`` and ``DEBUG``."""

    model_config = SettingsConfigDict(env_prefix="AGENTLIST_WORKER_")

    config: Path = Path("langgraph.json")
    """The ``langgraph.json`` naming the graphs to serve."""
    capacity: int = Field(default=10, ge=1)
    """Runs held at once; dispatches beyond it are refused."""
    worker_id: str = Field(
        default_factory=new_worker_id,
        pattern=r"^[A-Za-z0-9_-]+$",
        validation_alias="AGENTLIST_WORKER_ID",
    )
    drain_grace_seconds: float = Field(default=30.0, ge=0)
    """How long a draining worker lets its runs finish before handing them back."""
    run_timeout_seconds: float = Field(default=3600.0, gt=0)

    @property
    def team(self) -> str:
        """The team of the NATS user the worker connects as (``worker-<team>``): the only
        subjects that user may use name it."""
        return team_of_user(url_user(self.nats_url))
