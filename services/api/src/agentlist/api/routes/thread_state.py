"""A thread's state and history: read from LangGraph's checkpoints by a worker of its graph."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query

from agentlist.api import eventlog, stateops
from agentlist.api.auth.gate import Caller
from agentlist.api.db import runs
from agentlist.api.deps import CallerDep, Resources, ResourcesDep
from agentlist.api.errors import BadRequestError, ConflictError
from agentlist.api.params import truthy
from agentlist.api.responses import JsonResponse
from agentlist.api.routes.threads import require_thread
from agentlist.api.schemas import CheckpointBody, ThreadHistory, ThreadStateAt, ThreadStateUpdate
from agentlist.contracts.runs import CheckpointRef
from agentlist.contracts.state import EMPTY_THREAD_STATE, GetHistory, GetState, UpdateState

router = APIRouter(prefix="/threads", tags=["Thread state"])


def _checkpoint(
    body: CheckpointBody | str | None, checkpoint_id: str | None = None
) -> CheckpointRef | None:
    if isinstance(body, str):
        return CheckpointRef(checkpoint_id=body)
    if body is not None and (body.checkpoint_id or body.checkpoint_ns):
        return CheckpointRef(
            checkpoint_id=body.checkpoint_id,
            checkpoint_ns=body.checkpoint_ns or "",
            checkpoint_map=body.checkpoint_map,
        )
    return CheckpointRef(checkpoint_id=checkpoint_id) if checkpoint_id else None


async def _state(
    resources: Resources,
    caller: Caller,
    thread_id: str,
    checkpoint: CheckpointRef | None,
    subgraphs: bool,
) -> JsonResponse:
    thread = await require_thread(resources, caller, thread_id)
    if thread["graph_id"] is None:
        return JsonResponse(EMPTY_THREAD_STATE)
    tid = str(thread["thread_id"])
    request = GetState(
        thread_id=tid,
        config=stateops.thread_config(tid, thread["graph_id"]),
        checkpoint=checkpoint,
        subgraphs=subgraphs,
    )
    state = await stateops.ask(
        resources.nats, thread["graph_id"], request, resources.settings.state_timeout_seconds
    )
    return JsonResponse(state)


@router.get("/{thread_id}/state")
async def get_state(
    thread_id: str, resources: ResourcesDep, caller: CallerDep, subgraphs: str | None = None
) -> JsonResponse:
    return await _state(resources, caller, thread_id, None, truthy(subgraphs))


@router.get("/{thread_id}/state/{checkpoint_id}")
async def get_state_at_id(
    thread_id: str,
    checkpoint_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    subgraphs: str | None = None,
) -> JsonResponse:
    return await _state(
        resources, caller, thread_id, CheckpointRef(checkpoint_id=checkpoint_id), truthy(subgraphs)
    )


@router.post("/{thread_id}/state/checkpoint")
async def get_state_at(
    thread_id: str, body: ThreadStateAt, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    return await _state(resources, caller, thread_id, _checkpoint(body.checkpoint), body.subgraphs)


@router.post("/{thread_id}/state")
async def update_state(
    thread_id: str, body: ThreadStateUpdate, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    thread = await require_thread(resources, caller, thread_id, "update")
    graph_id = thread["graph_id"]
    if graph_id is None:
        raise BadRequestError(
            f"Thread {thread_id} has no graph yet: run it once, or create it with metadata.graph_id"
        )
    if await runs.active_on_thread(resources.as_tenant(caller.tenant), thread["thread_id"]):
        raise ConflictError("Thread is busy: a run is pending or running on it")
    tid = str(thread["thread_id"])
    request = UpdateState(
        thread_id=tid,
        config=stateops.thread_config(tid, graph_id),
        values=body.values,
        as_node=body.as_node,
        checkpoint=_checkpoint(body.checkpoint, body.checkpoint_id),
    )
    result: dict[str, Any] = await stateops.ask(
        resources.nats, graph_id, request, resources.settings.state_timeout_seconds
    )
    state = await stateops.refresh_thread(resources, caller.tenant, thread["thread_id"], graph_id)
    await eventlog.append_thread_event(
        resources.redis,
        tid,
        "state_update",
        orjson.dumps({"state": state, "thread_id": tid}),
        resources.settings.stream_retention_seconds,
    )
    checkpoint = result.get("checkpoint") or {}
    return JsonResponse(
        {**result, "configurable": checkpoint, "checkpoint_id": checkpoint.get("checkpoint_id")}
    )


async def _history(
    resources: Resources, caller: Caller, thread_id: str, body: ThreadHistory
) -> JsonResponse:
    thread = await require_thread(resources, caller, thread_id)
    if thread["graph_id"] is None:
        return JsonResponse([])
    tid = str(thread["thread_id"])
    request = GetHistory(
        thread_id=tid,
        config=stateops.thread_config(tid, thread["graph_id"]),
        limit=body.limit,
        before=_checkpoint(body.before),
        metadata=body.metadata,
        checkpoint=_checkpoint(body.checkpoint),
    )
    history = await stateops.ask(
        resources.nats, thread["graph_id"], request, resources.settings.state_timeout_seconds
    )
    return JsonResponse(history)


@router.post("/{thread_id}/history")
async def post_history(
    thread_id: str, body: ThreadHistory, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    return await _history(resources, caller, thread_id, body)


@router.get("/{thread_id}/history")
async def get_history(
    thread_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: str | None = None,
) -> JsonResponse:
    return await _history(resources, caller, thread_id, ThreadHistory(limit=limit, before=before))
