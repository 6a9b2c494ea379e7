"""Threads: a conversation's state, kept by LangGraph's checkpointer."""

from __future__ import annotations

from fastapi import APIRouter

from agentlist.api import stateops
from agentlist.api.db import threads
from agentlist.api.deps import ResourcesDep, TenantDep
from agentlist.api.errors import ConflictError, NotFoundError
from agentlist.api.params import parse_uuid, truthy
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import ThreadCreate
from agentlist.contracts.state import GetState
from agentlist.shared.ids import uuid7

router = APIRouter(prefix="/threads", tags=["Threads"])


@router.post("")
async def create_thread(
    body: ThreadCreate, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    thread_id = body.thread_id or uuid7()
    row = await threads.insert(
        resources.pool,
        tenant,
        thread_id,
        metadata=body.metadata or {},
        ttl_minutes=body.ttl.ttl if body.ttl else None,
        ttl_strategy=body.ttl.strategy if body.ttl else None,
    )
    if row is None:
        existing = await threads.get(resources.pool, tenant, thread_id)
        if existing is None or body.if_exists != "do_nothing":
            raise ConflictError(f"Thread with ID {thread_id} already exists")
        row = existing
    return JsonResponse(threads.to_json(row))


@router.get("/{thread_id}")
async def get_thread(thread_id: str, resources: ResourcesDep, tenant: TenantDep) -> JsonResponse:
    tid = parse_uuid(thread_id, "thread")
    row = await threads.get(resources.pool, tenant, tid)
    if row is None:
        raise NotFoundError(f"Thread with ID {tid} not found")
    return JsonResponse(threads.to_json(row))


@router.get("/{thread_id}/state")
async def get_thread_state(
    thread_id: str, resources: ResourcesDep, tenant: TenantDep, subgraphs: str | None = None
) -> JsonResponse:
    tid = parse_uuid(thread_id, "thread")
    row = await threads.get(resources.pool, tenant, tid)
    if row is None:
        raise NotFoundError(f"Thread with ID {tid} not found")
    if row["graph_id"] is None:
        return JsonResponse(stateops.EMPTY_STATE)
    request = GetState(
        thread_id=str(tid),
        config={"configurable": {"thread_id": str(tid), "graph_id": row["graph_id"]}},
        subgraphs=truthy(subgraphs),
    )
    state = await stateops.ask(
        resources.nats, row["graph_id"], request, resources.settings.state_timeout_seconds
    )
    return JsonResponse(state)
