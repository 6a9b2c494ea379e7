"""Runs: create, stream and wait, on a thread or stateless (a temporary thread)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from agentlist.api import sse
from agentlist.api.db import runs, threads
from agentlist.api.deps import Resources, ResourcesDep, TenantDep
from agentlist.api.enqueue import Enqueued, enqueue_run
from agentlist.api.errors import NotFoundError
from agentlist.api.params import parse_uuid
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import RunCreate
from agentlist.contracts.streams import StreamEnd, run_stream_key

router = APIRouter(tags=["Runs"])


def _run_path(thread_id: uuid.UUID, run_id: uuid.UUID, stateless: bool) -> str:
    return f"/runs/{run_id}" if stateless else f"/threads/{thread_id}/runs/{run_id}"


def _finished(resources: Resources, run_id: uuid.UUID) -> sse.RunFinished:
    async def finished() -> bool:
        return await runs.status(resources.pool, run_id) in runs.TERMINAL | {None}

    return finished


def wait_body(end: StreamEnd | None, fallback: Any) -> Any:
    """What ``/wait`` and ``/join`` answer: final values (with ``__interrupt__`` when the graph
    stopped at one) or ``{"__error__": {error, message}}`` — with HTTP 200 either way."""
    if end is None:
        return fallback
    if end.status in ("error", "timeout"):
        error = end.error
        return {
            "__error__": {
                "error": error.error if error else "RunError",
                "message": error.message if error else f"run ended with status {end.status}",
            }
        }
    values = end.values if end.values is not None else {}
    interrupts = [item for items in end.interrupts.values() for item in items]
    if interrupts and isinstance(values, dict):
        return {**values, "__interrupt__": interrupts}
    return values


def stream_response(
    resources: Resources, enqueued: Enqueued, *, stateless: bool, start: str = "0"
) -> StreamingResponse:
    path = _run_path(enqueued.thread_id, enqueued.run_id, stateless)
    request = sse.StreamRequest(
        redis=resources.redis,
        key=run_stream_key(str(enqueued.thread_id), str(enqueued.run_id)),
        start=start,
        resumable=bool(enqueued.kwargs.get("resumable")),
        heartbeat_seconds=resources.settings.sse_heartbeat_seconds,
    )
    return StreamingResponse(
        sse.run_events(request, _finished(resources, enqueued.run_id)),
        media_type=sse.SSE_MEDIA_TYPE,
        headers={**sse.SSE_HEADERS, "Location": f"{path}/stream", "Content-Location": path},
    )


def wait_response(resources: Resources, tenant: str, enqueued: Enqueued) -> StreamingResponse:
    thread_id, run_id = enqueued.thread_id, enqueued.run_id
    path = f"/threads/{thread_id}/runs/{run_id}"

    async def body() -> AsyncIterator[bytes]:
        end: StreamEnd | None = None
        async for item in sse.wait_for_end(
            resources.redis,
            run_stream_key(str(thread_id), str(run_id)),
            "0",
            heartbeat_seconds=resources.settings.sse_heartbeat_seconds,
            finished=_finished(resources, run_id),
        ):
            if item is None:
                yield b"\n"  # keeps proxies and clients from timing out an idle wait
            else:
                end = item
        fallback = None
        if end is None:
            thread = await threads.get(resources.pool, tenant, thread_id)
            fallback = thread["state_values"] if thread is not None else None
        yield orjson.dumps(wait_body(end, fallback))

    return StreamingResponse(
        body(),
        media_type="application/json",
        headers={"Location": f"{path}/join", "Content-Location": path},
    )


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    tid = parse_uuid(thread_id, "thread")
    enqueued = await enqueue_run(resources, tenant, body, thread_id=tid, headers=request.headers)
    return JsonResponse(
        runs.to_json(enqueued.run),
        headers={"Content-Location": _run_path(tid, enqueued.run_id, stateless=False)},
    )


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    tid = parse_uuid(thread_id, "thread")
    enqueued = await enqueue_run(resources, tenant, body, thread_id=tid, headers=request.headers)
    return stream_response(resources, enqueued, stateless=False)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    tid = parse_uuid(thread_id, "thread")
    enqueued = await enqueue_run(resources, tenant, body, thread_id=tid, headers=request.headers)
    return wait_response(resources, tenant, enqueued)


@router.post("/runs")
async def create_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    enqueued = await enqueue_run(resources, tenant, body, thread_id=None, headers=request.headers)
    path = _run_path(enqueued.thread_id, enqueued.run_id, stateless=True)
    return JsonResponse(runs.to_json(enqueued.run), headers={"Content-Location": path})


@router.post("/runs/stream")
async def stream_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    enqueued = await enqueue_run(resources, tenant, body, thread_id=None, headers=request.headers)
    return stream_response(resources, enqueued, stateless=True)


@router.post("/runs/wait")
async def wait_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    enqueued = await enqueue_run(resources, tenant, body, thread_id=None, headers=request.headers)
    return wait_response(resources, tenant, enqueued)


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    row = await runs.get(
        resources.pool, tenant, parse_uuid(thread_id, "thread"), parse_uuid(run_id, "run")
    )
    if row is None:
        raise NotFoundError("Run not found")
    return JsonResponse(runs.to_json(row))
