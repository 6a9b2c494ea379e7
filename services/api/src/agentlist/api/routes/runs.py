"""Runs: create, stream, wait, join, list, cancel and delete — on a thread, or stateless (on a
temporary thread that is deleted afterwards unless ``on_completion="keep"``)."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from agentlist.api import cancel, eventlog, shapes
from agentlist.api.auth.custom import Action
from agentlist.api.auth.gate import Caller
from agentlist.api.db import runs
from agentlist.api.deps import CallerDep, Resources, ResourcesDep, TenantDep, get_caller
from agentlist.api.enqueue import Enqueued, enqueue_run
from agentlist.api.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from agentlist.api.params import parse_uuid, select_fields, truthy
from agentlist.api.responses import JsonResponse
from agentlist.api.routes.threads import require_thread
from agentlist.api.runstream import (
    RunRef,
    join_response,
    live_start,
    replay_start,
    sse_response,
    stream_expired,
)
from agentlist.api.schemas import CancelMany, RunCreate
from agentlist.contracts.runs import CancelAction
from agentlist.contracts.storage import ACTIVE_RUN_STATUSES

router = APIRouter(tags=["Runs"])


def _ref(enqueued: Enqueued, stateless: bool) -> RunRef:
    return RunRef(enqueued.thread_id, enqueued.run_id, enqueued.tenant, stateless)


async def _create(
    resources: Resources, body: RunCreate, request: Request, thread_id: str | None
) -> Enqueued:
    tid = parse_uuid(thread_id, "thread") if thread_id is not None else None
    caller = await get_caller(request)
    return await enqueue_run(resources, caller, body, thread_id=tid, headers=request.headers)


def _created(enqueued: Enqueued, stateless: bool) -> JsonResponse:
    return JsonResponse(
        shapes.run(enqueued.run), headers={"Content-Location": _ref(enqueued, stateless).path}
    )


async def _create_streamed(
    resources: Resources, body: RunCreate, request: Request, thread_id: str | None
) -> StreamingResponse:
    """The run and its stream: the tenant's stream slot is taken first, so that a tenant with
    every slot taken is refused before a run is created."""
    caller = await get_caller(request)
    with resources.limits.stream_slot(caller.tenant) as release:
        enqueued = await _create(resources, body, request, thread_id)
        return sse_response(
            resources,
            _ref(enqueued, stateless=thread_id is None),
            start=eventlog.FROM_START,
            resumable=bool(body.stream_resumable),
            cancel_on_disconnect=body.on_disconnect == "cancel",
            on_close=release,
        )


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep
) -> JsonResponse:
    return _created(await _create(resources, body, request, thread_id), stateless=False)


@router.post("/threads/{thread_id}/runs/stream")
async def stream_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep
) -> StreamingResponse:
    return await _create_streamed(resources, body, request, thread_id)


@router.post("/threads/{thread_id}/runs/wait")
async def wait_run(
    thread_id: str, body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    enqueued = await _create(resources, body, request, thread_id)
    return join_response(
        resources,
        tenant,
        _ref(enqueued, False),
        cancel_on_disconnect=body.on_disconnect == "cancel",
    )


@router.post("/runs")
async def create_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep
) -> JsonResponse:
    return _created(await _create(resources, body, request, None), stateless=True)


@router.post("/runs/stream")
async def stream_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep
) -> StreamingResponse:
    return await _create_streamed(resources, body, request, None)


@router.post("/runs/wait")
async def wait_stateless_run(
    body: RunCreate, request: Request, resources: ResourcesDep, tenant: TenantDep
) -> StreamingResponse:
    enqueued = await _create(resources, body, request, None)
    return join_response(
        resources,
        tenant,
        _ref(enqueued, False),
        cancel_on_disconnect=body.on_disconnect == "cancel",
    )


@router.post("/runs/batch")
async def create_batch(
    bodies: list[RunCreate], request: Request, resources: ResourcesDep
) -> JsonResponse:
    if not bodies:
        raise UnprocessableError("A batch needs at least one run")
    most = resources.settings.max_batch_runs
    if len(bodies) > most:
        raise UnprocessableError(f"A batch may hold at most {most} runs; got {len(bodies)}")
    created = [await _create(resources, body, request, None) for body in bodies]
    return JsonResponse([shapes.run(item.run) for item in created])


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: str | None = None,
    select: Annotated[list[str] | None, Query()] = None,
) -> JsonResponse:
    thread = await require_thread(resources, caller, thread_id)
    rows = await runs.list_for_thread(
        resources.as_tenant(caller.tenant),
        thread["thread_id"],
        limit=limit,
        offset=offset,
        status=status or None,
    )
    return JsonResponse([select_fields(shapes.run(row), select) for row in rows])


async def authorize_thread(
    resources: Resources, caller: Caller, thread_id: str, action: Action
) -> None:
    """A thread's runs follow the thread's handlers. Without handlers the run's own query,
    scoped to the tenant, is the whole check: no extra round trip."""
    if caller.custom is not None:
        await require_thread(resources, caller, thread_id, action)


async def _require_run(
    resources: Resources, caller: Caller, thread_id: str, run_id: str, action: Action = "read"
) -> Any:
    await authorize_thread(resources, caller, thread_id, action)
    row = await runs.get(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        parse_uuid(thread_id, "thread"),
        parse_uuid(run_id, "run"),
    )
    if row is None:
        raise NotFoundError("Run not found")
    return row


async def _require_stateless_run(resources: Resources, tenant: str, run_id: str) -> Any:
    row = await runs.find(resources.as_tenant(tenant), tenant, parse_uuid(run_id, "run"))
    if row is None:
        raise NotFoundError("Run not found")
    return row


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    return JsonResponse(shapes.run(await _require_run(resources, caller, thread_id, run_id)))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete_run(
    thread_id: str, run_id: str, resources: ResourcesDep, caller: CallerDep
) -> Response:
    await authorize_thread(resources, caller, thread_id, "delete")
    status = await runs.delete_finished(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        parse_uuid(thread_id, "thread"),
        parse_uuid(run_id, "run"),
    )
    if status is None:
        raise NotFoundError("Run not found")
    if status in ACTIVE_RUN_STATUSES:
        raise ConflictError(f"Run {run_id} is {status}; cancel it before deleting it")
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(
    thread_id: str,
    run_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    cancel_on_disconnect: str | None = None,
) -> StreamingResponse:
    row = await _require_run(resources, caller, thread_id, run_id)
    ref = RunRef(row["thread_id"], row["run_id"], caller.tenant)
    return join_response(
        resources,
        caller.tenant,
        ref,
        cancel_on_disconnect=truthy(cancel_on_disconnect),
        expired=await stream_expired(resources, ref),
    )


def _modes(stream_mode: list[str] | None) -> list[str] | None:
    """``stream_mode`` as a repeated query parameter, one value, or a JSON array string."""
    if not stream_mode:
        return None
    modes: list[str] = []
    for value in stream_mode:
        if value.startswith("["):
            try:
                modes.extend(str(mode) for mode in json.loads(value))
            except ValueError:
                raise UnprocessableError(f"Invalid stream_mode: {value!r}") from None
        elif value:
            modes.append(value)
    return modes or None


async def _join_stream(
    resources: Resources,
    tenant: str,
    row: Any,
    *,
    stateless: bool,
    last_event_id: str | None,
    stream_mode: list[str] | None,
    cancel_on_disconnect: str | None,
) -> StreamingResponse:
    ref = RunRef(row["thread_id"], row["run_id"], tenant, stateless)
    if last_event_id is None:
        start = await live_start(resources, ref)
    else:
        resume = eventlog.resume_point(last_event_id)
        if resume is None:
            raise UnprocessableError(
                "Last-Event-ID must be a stream entry id such as 1700000000000-0, or -1"
            )
        start = await replay_start(resources, ref, resume)
    with resources.limits.stream_slot(tenant) as release:
        return sse_response(
            resources,
            ref,
            start=start,
            resumable=bool(row["kwargs"].get("resumable")),
            modes=_modes(stream_mode),
            cancel_on_disconnect=truthy(cancel_on_disconnect),
            on_close=release,
        )


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_run_stream(
    thread_id: str,
    run_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    row = await _require_run(resources, caller, thread_id, run_id)
    return await _join_stream(
        resources,
        caller.tenant,
        row,
        stateless=False,
        last_event_id=last_event_id,
        stream_mode=stream_mode,
        cancel_on_disconnect=cancel_on_disconnect,
    )


@router.get("/runs/{run_id}/stream")
async def join_stateless_run_stream(
    run_id: str,
    resources: ResourcesDep,
    tenant: TenantDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    row = await _require_stateless_run(resources, tenant, run_id)
    return await _join_stream(
        resources,
        tenant,
        row,
        stateless=True,
        last_event_id=last_event_id,
        stream_mode=stream_mode,
        cancel_on_disconnect=cancel_on_disconnect,
    )


def _action(action: str | None) -> CancelAction:
    if action in (None, "", "interrupt"):
        return "interrupt"
    if action == "rollback":
        return "rollback"
    raise UnprocessableError("action must be 'interrupt' or 'rollback'")


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", response_model=None)
async def cancel_run(
    thread_id: str,
    run_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    wait: str | None = None,
    action: str | None = None,
) -> Response | StreamingResponse:
    row = await _require_run(resources, caller, thread_id, run_id, "update")
    chosen = _action(action)
    if row["status"] not in ACTIVE_RUN_STATUSES:
        raise ConflictError(f"Run {run_id} has already finished ({row['status']})")
    await cancel.cancel(resources, caller.tenant, [row["run_id"]], chosen)
    if truthy(wait):
        ref = RunRef(row["thread_id"], row["run_id"], caller.tenant)
        expired = await stream_expired(resources, ref)
        return join_response(resources, caller.tenant, ref, expired=expired)
    return Response(status_code=202)


@router.post("/runs/cancel", status_code=204)
async def cancel_many(
    body: CancelMany, resources: ResourcesDep, caller: CallerDep, action: str | None = None
) -> Response:
    tenant = caller.tenant
    chosen = _action(action)
    by_status = body.status is not None
    by_ids = body.thread_id is not None or body.run_ids is not None
    if by_status == by_ids:
        raise UnprocessableError("Give either status, or thread_id with run_ids — not both")
    if body.status is not None:
        if caller.custom is not None:
            # Every active run of the tenant, whoever's thread it is on: only without handlers.
            raise ForbiddenError("Cancelling runs by status needs a server without auth handlers")
        targets: list[UUID] = await runs.active_ids(
            resources.as_tenant(tenant), tenant, body.status
        )
    else:
        if body.thread_id is None or not body.run_ids:
            raise UnprocessableError("thread_id and run_ids go together")
        await authorize_thread(resources, caller, str(body.thread_id), "update")
        targets = await runs.active_among(
            resources.as_tenant(tenant), tenant, body.thread_id, body.run_ids
        )
        if not targets:
            raise NotFoundError("No matching runs to cancel")
    await cancel.cancel(resources, tenant, targets, chosen)
    return Response(status_code=204)
