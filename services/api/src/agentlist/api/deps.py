"""What a request handler may depend on: the connections its API instance opened at start-up."""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from nats.aio.client import Client as Nats
from redis.asyncio import Redis

from agentlist.api.auth.gate import Caller, Gate
from agentlist.api.db.tenancy import Connection, TenantReads, tenant_transaction
from agentlist.api.errors import ForbiddenError
from agentlist.api.langgraph_storage import LangGraphStorage
from agentlist.api.latency import LatencyRecorder
from agentlist.api.ratelimit import TenantLimits
from agentlist.api.settings import ApiSettings
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
    gate: Gate
    latency: LatencyRecorder
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    """Work that outlives the request that started it (a cancel after a client left)."""

    def as_tenant(self, tenant: str, *, operator: bool = False) -> TenantReads:
        """Single statements as ``tenant``: the only way to its rows (row-level security)."""
        return TenantReads(self.pool, tenant, operator)

    def transaction(
        self, tenant: str, *, operator: bool = False
    ) -> AbstractAsyncContextManager[Connection]:
        """A transaction as ``tenant`` (:func:`agentlist.api.db.tenancy.tenant_transaction`)."""
        return tenant_transaction(self.pool, tenant, operator=operator)


# The dependencies are ``async`` although they never wait: FastAPI runs a plain ``def``
# dependency in a worker thread, two thread hand-offs per request that, under load, cost the
# API more than its own work and serialised it behind its thread pool.


def _resources(request: Request) -> Resources:
    resources: Resources = request.state.resources
    return resources


async def get_resources(request: Request) -> Resources:
    return _resources(request)


async def get_caller(request: Request) -> Caller:
    """The request's caller, authenticated once per request (every guarded router depends on
    this, and so do the routes that read the caller)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None:
        caller = await _resources(request).gate.caller(request)
        request.state.caller = caller
    return caller


async def get_operator(request: Request) -> Caller:
    """The caller, if it may use the operators' routes (workers, drains); else 403."""
    caller = await get_caller(request)
    if not caller.operator:
        scope = _resources(request).gate.operator_scope
        caller.audit("operator_denied", path=request.url.path)
        raise ForbiddenError(f"This route needs the {scope!r} permission")
    return caller


async def get_tenant(request: Request) -> str:
    """The caller's tenant: only ever from what the server verified (``auth.gate``)."""
    return (await get_caller(request)).tenant


ResourcesDep = Annotated[Resources, Depends(get_resources)]
TenantDep = Annotated[str, Depends(get_tenant)]
CallerDep = Annotated[Caller, Depends(get_caller)]
OperatorDep = Annotated[Caller, Depends(get_operator)]
