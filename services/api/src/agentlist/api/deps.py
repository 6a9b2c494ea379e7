"""What a request handler may depend on: the connections its API instance opened at start-up."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from nats.aio.client import Client as Nats
from redis.asyncio import Redis

from agentlist.api.errors import UnprocessableError
from agentlist.api.langgraph_storage import LangGraphStorage
from agentlist.api.ratelimit import TenantLimits
from agentlist.api.settings import ApiSettings
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.core.langgraph_json import ServerConfig


@dataclass(frozen=True)
class Resources:
    settings: ApiSettings
    pool: asyncpg.Pool
    nats: Nats
    redis: Redis
    langgraph: LangGraphStorage
    server: ServerConfig
    limits: TenantLimits
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    """Work that outlives the request that started it (a cancel after a client left)."""


# The dependencies are ``async`` although they never wait: FastAPI runs a plain ``def``
# dependency in a worker thread, two thread hand-offs per request that, under load, cost the
# API more than its own work and serialised it behind its thread pool.


def _resources(request: Request) -> Resources:
    resources: Resources = request.state.resources
    return resources


async def get_resources(request: Request) -> Resources:
    return _resources(request)


_TENANT = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


async def get_tenant(request: Request) -> str:
    """The caller's tenant: the default one, or the ``X-Tenant-Id`` header on a server that
    trusts it (``AGENTLIST_API_TRUST_TENANT_HEADER``, for a gateway that authenticates callers
    and sets it; never for clients reaching the API directly)."""
    settings = _resources(request).settings
    header = request.headers.get("x-tenant-id") if settings.trust_tenant_header else None
    if header is None:
        return settings.default_tenant
    if not _TENANT.fullmatch(header) or header == SYSTEM_TENANT:
        raise UnprocessableError("X-Tenant-Id must be 1-64 letters, digits, '_', '-', '.' or ':'")
    return header


ResourcesDep = Annotated[Resources, Depends(get_resources)]
TenantDep = Annotated[str, Depends(get_tenant)]
