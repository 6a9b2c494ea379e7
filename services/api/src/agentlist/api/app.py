"""The FastAPI application of one API instance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import BlockingConnectionPool, Redis

from agentlist.api.auth.gate import Gate, refuse_open_exposure
from agentlist.api.deps import Resources, get_caller
from agentlist.api.errors import install_error_handlers
from agentlist.api.langgraph_storage import open_storage
from agentlist.api.latency import LatencyRecorder, RecordLatency
from agentlist.api.limits import BodySizeLimit
from agentlist.api.openapi import describe_errors
from agentlist.api.ratelimit import TenantLimits
from agentlist.api.routes import (
    assistants,
    crons,
    meta,
    runs,
    store,
    thread_state,
    thread_stream,
    threads,
    ui,
    workers,
)
from agentlist.api.routes.docs import install_docs
from agentlist.api.settings import ApiSettings
from agentlist.core import __version__
from agentlist.core import langgraph_json as server_config
from agentlist.core import nats as mesh_nats
from agentlist.core.langgraph_json import ServerConfig
from agentlist.db import pool as db

EXPOSED_HEADERS = ["X-Pagination-Total", "X-Pagination-Next", "Content-Location", "Location"]


@asynccontextmanager
async def _open_resources(
    settings: ApiSettings, server: ServerConfig, gate: Gate, latency: LatencyRecorder
) -> AsyncIterator[Resources]:
    async with AsyncExitStack() as stack:
        pool = await db.create_pool(settings.database_url, max_size=settings.db_pool_size)
        stack.push_async_callback(pool.close)
        await db.migrated(pool)
        nats = await mesh_nats.connect(settings.nats_url, name="agentlist-api")
        stack.push_async_callback(nats.drain)
        redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_pool_size,
                timeout=10,
                # Reads block on XREAD for a heartbeat period; a dead server must still time out.
                socket_timeout=settings.sse_heartbeat_seconds + 10,
                socket_connect_timeout=5,
                health_check_interval=30,
            )
        )
        stack.push_async_callback(redis.aclose)
        langgraph = await stack.enter_async_context(
            open_storage(settings.database_url, 10, store_ttl=server.store_ttl)
        )
        limits = TenantLimits.from_settings(settings, redis)
        yield Resources(
            settings=settings,
            pool=pool,
            nats=nats,
            redis=redis,
            langgraph=langgraph,
            server=server,
            limits=limits,
            gate=gate.with_pool(pool),
            latency=latency,
        )


def _cors(server: ServerConfig) -> dict[str, Any]:
    """langgraph-api's defaults (anyone, and the headers clients need exposed), or the
    ``http.cors`` section of langgraph.json."""
    cors = {
        "allow_origins": ["*"],
        "allow_methods": ["*"],
        "allow_headers": ["*"],
        **server.cors,
    }
    cors["expose_headers"] = sorted({*EXPOSED_HEADERS, *server.cors.get("expose_headers", [])})
    return cors


def create_app(settings: ApiSettings) -> FastAPI:
    server = server_config.load(settings.graphs_config)
    gate = Gate.configure(settings, server)
    refuse_open_exposure(gate, settings.host, settings.allow_open)
    latency = LatencyRecorder()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with _open_resources(settings, server, gate, latency) as resources:
            yield {"resources": resources}

    app = FastAPI(
        title="AgentList",
        version=__version__,
        description="The LangGraph Server API, served by a mesh of services over NATS.",
        lifespan=lifespan,
        # routes/docs.py serves /docs and /redoc with their assets; FastAPI's load from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RecordLatency, recorder=latency)
    app.add_middleware(CORSMiddleware, **_cors(server))
    install_error_handlers(app)
    # Open, as in langgraph-api: liveness and version, the Studio's files, /docs and /redoc
    # with their assets (/openapi.json is FastAPI's own route, outside the routers).
    for module in (meta, ui):
        app.include_router(module.router)
    install_docs(app)
    describe_errors(app)
    guarded = [Depends(get_caller)]
    for module in (assistants, threads, thread_state, thread_stream, crons, runs, store, workers):
        app.include_router(module.router, dependencies=guarded)
    return app
