"""Liveness, version, dependency health and the Prometheus page, never behind auth (as in
langgraph-api); the detailed metrics under ``/metrics/`` are the operators'."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from agentlist.api import shapes
from agentlist.api.db import metrics as db_metrics
from agentlist.api.db import workers
from agentlist.api.deps import OperatorDep, Resources, ResourcesDep
from agentlist.api.metrics import latency_lines, prometheus
from agentlist.api.responses import JsonResponse
from agentlist.core import __version__
from agentlist.db.pool import ping

router = APIRouter(tags=["System"])

_PROBE_TIMEOUT = 2.0


@router.get("/ok")
async def ok() -> dict[str, bool]:
    """Liveness: the process answers."""
    return {"ok": True}


@router.get("/info")
async def info(resources: ResourcesDep) -> dict[str, Any]:
    """Versions, and how the server authenticates (``open``: anyone who reaches it)."""
    import langgraph.version  # the API never runs graphs, but clients ask which LangGraph

    return {
        "version": __version__,
        "auth": resources.gate.mode,
        "langgraph_py_version": langgraph.version.__version__,
        "flags": {"assistants": True, "crons": True, "langsmith": False},
        "host": {"kind": "agentlist", "project_id": None, "revision_id": None, "tenant_id": None},
    }


async def _probe(check: Any) -> str:
    try:
        await asyncio.wait_for(check, _PROBE_TIMEOUT)
    except Exception as exc:  # any failure means unhealthy; say which
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _nats_ok(resources: Resources) -> None:
    if not resources.nats.is_connected:
        raise ConnectionError("not connected")
    await resources.nats.flush(timeout=int(_PROBE_TIMEOUT))


@router.get(
    "/metrics",
    response_model=None,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(resources: ResourcesDep, format: str = "prometheus") -> Response:
    """Queue depth by status and graph, the oldest waiting run, workers and their capacity,
    each graph's load and each worker pool's size: Prometheus text, or JSON with
    ``?format=json``."""
    snapshot = shapes.gauges(await db_metrics.snapshot(resources.pool))
    if format == "json":
        return JsonResponse(snapshot)
    text = prometheus(snapshot) + latency_lines(resources.latency.histograms())
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@router.get("/metrics/queue-depth")
async def queue_depth(resources: ResourcesDep, _operator: OperatorDep) -> JsonResponse:
    """Runs waiting for or holding a worker, by status and graph, and the oldest one waiting;
    per graph, runs waiting for a worker, running, and the healthy workers' run slots."""
    snapshot = shapes.gauges(await db_metrics.snapshot(resources.pool))
    return JsonResponse(
        {
            "runs": snapshot["runs"],
            "oldest_pending_seconds": snapshot["oldest_pending_seconds"],
            "graphs": snapshot["graphs"],
        }
    )


@router.get("/metrics/workers")
async def worker_metrics(resources: ResourcesDep, _operator: OperatorDep) -> JsonResponse:
    """Workers by state and language, with the run slots they offer, and the worker pools."""
    snapshot = shapes.gauges(await db_metrics.snapshot(resources.pool))
    return JsonResponse({"workers": snapshot["workers"], "pools": snapshot["pools"]})


@router.get("/metrics/api-latency")
async def api_latency(resources: ResourcesDep, _operator: OperatorDep) -> JsonResponse:
    """This instance's time to answer, per route: requests served and recent percentiles."""
    return JsonResponse({"routes": resources.latency.summary()})


@router.get("/health")
async def health(resources: ResourcesDep) -> JsonResponse:
    """Each dependency's status, the workers by state, and the graphs served: by a healthy
    worker, or by a live pool that starts one on demand."""
    postgres, redis, nats = await asyncio.gather(
        _probe(ping(resources.pool)),
        _probe(resources.redis.ping()),
        _probe(_nats_ok(resources)),
    )
    body: dict[str, Any] = {
        "status": "ok",
        "dependencies": {"postgres": postgres, "redis": redis, "nats": nats},
        "workers": {},
        "graphs": [],
    }
    if postgres == "ok":
        body["workers"], body["graphs"] = await workers.summary(resources.pool)
    healthy = all(status == "ok" for status in body["dependencies"].values())
    body["status"] = "ok" if healthy else "degraded"
    return JsonResponse(body, status_code=200 if healthy else 503)
