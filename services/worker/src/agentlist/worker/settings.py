"""The worker's settings, read once by the entry point and passed down."""

from __future__ import annotations

import re
import secrets
import socket
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_NOT_TOKEN = re.compile(r"[^A-Za-z0-9_-]+")


def new_worker_id() -> str:
    """``py-<host>-<8 hex>``: unique per process and usable as one NATS subject token."""
    host = _NOT_TOKEN.sub("-", socket.gethostname()).strip("-")[:32] or "host"
    return f"py-{host}-{secrets.token_hex(4)}"


class WorkerSettings(BaseSettings):
    """``NATS_URL``, ``DATABASE_URL`` and ``DEBUG`` as the other services read them; the rest
    is prefixed ``AGENTLIST_`` (``AGENTLIST_CAPACITY``, ``AGENTLIST_CONFIG``...)."""

    model_config = SettingsConfigDict(
        env_prefix="AGENTLIST_", extra="ignore", frozen=True, populate_by_name=True
    )

    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "AGENTLIST_NATS_URL"),
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias=AliasChoices("DATABASE_URL", "AGENTLIST_DATABASE_URL"),
    )
    config: Path = Path("langgraph.json")
    """The ``langgraph.json`` naming the graphs to serve."""
    capacity: int = Field(default=10, ge=1)
    """Runs held at once; dispatches beyond it are refused."""
    worker_id: str = Field(default_factory=new_worker_id, pattern=r"^[A-Za-z0-9_-]+$")
    drain_grace_seconds: float = Field(default=30.0, ge=0)
    """How long a draining worker lets its runs finish before handing them back."""
    run_timeout_seconds: float = Field(default=3600.0, gt=0)
    log_level: str = "INFO"
    debug: str = Field(default="", validation_alias=AliasChoices("DEBUG", "AGENTLIST_DEBUG"))
    """Logger namespaces to log at debug level, e.g. ``agentlist:*`` or ``agentlist:worker``."""
