"""What a request handler may depend on: the connections its API instance opened at start-up."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from nats.aio.client import Client as Nats
from redis.asyncio import Redis

from agentlist.api.langgraph_storage import LangGraphStorage
from agentlist.api.server_config import ServerConfig
from agentlist.api.settings import ApiSettings


@dataclass(frozen=True)
class Resources:
    settings: ApiSettings
    pool: asyncpg.Pool
    nats: Nats
    redis: Redis
    langgraph: LangGraphStorage
    server: ServerConfig
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    """Work that outlives the request that started it (a cancel after a client left)."""


def get_resources(request: Request) -> Resources:
    resources: Resources = request.state.resources
    return resources


def get_tenant(request: Request) -> str:
    """The caller's tenant. One default tenant until authentication assigns others."""
    tenant: str | None = getattr(request.state, "tenant", None)
    return tenant or get_resources(request).settings.default_tenant


ResourcesDep = Annotated[Resources, Depends(get_resources)]
TenantDep = Annotated[str, Depends(get_tenant)]
