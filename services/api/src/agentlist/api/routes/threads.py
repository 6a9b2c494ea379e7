"""Threads: a conversation, its metadata and its latest values (state lives in checkpoints)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agentlist.api import cancel, extract, shapes, stateops
from agentlist.api.auth.custom import Action, search_value
from agentlist.api.auth.filters import Filter
from agentlist.api.auth.gate import Caller
from agentlist.api.db import runs, threads
from agentlist.api.deps import CallerDep, Resources, ResourcesDep
from agentlist.api.errors import BadRequestError, ConflictError, NotFoundError
from agentlist.api.params import (
    json_object,
    model_of_query,
    pagination_headers,
    parse_uuid,
    select_fields,
)
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import (
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadPrune,
    ThreadSearch,
    ThreadTTL,
)
from agentlist.contracts.ids import uuid7
from agentlist.contracts.state import BulkUpdateState
from agentlist.db.checkpoints import copy_thread_checkpoints, delete_thread_checkpoints
from agentlist.db.sql import Executor

router = APIRouter(prefix="/threads", tags=["Threads"])


async def require_thread(
    resources: Resources,
    caller: Caller,
    thread_id: str,
    action: Action = "read",
    *,
    conn: Executor | None = None,
    lock: bool = False,
) -> Any:
    """The thread, once the caller's ``threads`` handler allows ``action`` on it; one its
    filter excludes is not found, exactly as if it did not exist."""
    tid = parse_uuid(thread_id, "thread")
    only = await caller.authorize("threads", action, {"thread_id": tid})
    row = await threads.get(
        conn or resources.as_tenant(caller.tenant), caller.tenant, tid, lock=lock, only=only
    )
    if row is None:
        await _audit_hidden(resources, caller, tid, action)
        raise NotFoundError(f"Thread with ID {tid} not found")
    return row


async def _audit_hidden(resources: Resources, caller: Caller, thread_id: UUID, action: str) -> None:
    """A thread that exists but is another tenant's or owner's: the caller got a 404, the audit
    trail gets the truth."""
    if await threads.exists_anywhere(resources.pool, thread_id):
        caller.audit("denied_hidden", resource="thread", id=thread_id, action=action)


async def _apply_supersteps(
    resources: Resources, tenant: str, row: Any, body: ThreadCreate
) -> None:
    graph_id = (body.metadata or {}).get("graph_id")
    if not graph_id:
        raise BadRequestError("Creating a thread with supersteps needs metadata.graph_id")
    thread_id = str(row["thread_id"])
    request = BulkUpdateState(
        thread_id=thread_id,
        config={"configurable": {"thread_id": thread_id, "graph_id": graph_id}},
        supersteps=[step.get("updates", []) for step in body.supersteps or []],
    )
    await stateops.ask(resources.nats, graph_id, request, resources.settings.state_timeout_seconds)
    await stateops.refresh_thread(resources, tenant, row["thread_id"], graph_id)


def default_ttl(resources: Resources) -> ThreadTTL | None:
    """``checkpointer.ttl`` of langgraph.json: a TTL for threads created without one."""
    configured = resources.server.thread_ttl or {}
    if not configured.get("default_ttl"):
        return None
    return ThreadTTL(ttl=configured["default_ttl"], strategy=configured.get("strategy") or "delete")


@router.post("")
async def create_thread(
    body: ThreadCreate, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    thread_id = body.thread_id or uuid7()
    ttl = body.ttl or default_ttl(resources)
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "metadata": dict(body.metadata or {}),
        "if_exists": body.if_exists,
        "ttl": ttl.model_dump() if ttl else None,
    }
    only = await caller.authorize("threads", "create", value)
    metadata = value["metadata"]  # as the handler left it (an owner stamped, say)
    graph_id = metadata.get("graph_id")
    row = await threads.insert(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        thread_id,
        metadata=metadata,
        graph_id=graph_id if isinstance(graph_id, str) else None,
        ttl_minutes=ttl.ttl if ttl else None,
        ttl_strategy=ttl.strategy if ttl else None,
    )
    if row is None:
        existing = await threads.get(
            resources.as_tenant(caller.tenant), caller.tenant, thread_id, only=only
        )
        if existing is None or body.if_exists != "do_nothing":
            raise ConflictError(f"Thread with ID {thread_id} already exists")
        return JsonResponse(shapes.thread(existing))
    if body.supersteps:
        await _apply_supersteps(resources, caller.tenant, row, body)
        row = await require_thread(resources, caller, str(thread_id))
    return JsonResponse(shapes.thread(row))


@router.get("")
async def list_threads(
    resources: ResourcesDep,
    caller: CallerDep,
    limit: int | None = None,
    offset: int | None = None,
    status: str | None = None,
    metadata: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> JsonResponse:
    """The seed's listing: ``POST /threads/search`` as query parameters (``metadata`` as
    JSON), under the same handlers."""
    body = model_of_query(
        ThreadSearch,
        {
            "limit": limit,
            "offset": offset,
            "status": status,
            "metadata": json_object(metadata, "metadata"),
            "sort_by": sort_by,
            "sort_order": sort_order,
        },
    )
    return await search_threads(body, resources, caller)


@router.post("/search")
async def search_threads(
    body: ThreadSearch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    paths = {alias: extract.parse(path) for alias, path in (body.extract or {}).items()}
    value = search_value(
        body.metadata, limit=body.limit, offset=body.offset, values=body.values, status=body.status
    )
    only = await caller.authorize("threads", "search", value)
    async with resources.transaction(caller.tenant) as conn:
        rows, total = await threads.search(
            conn,
            caller.tenant,
            metadata=value["metadata"],
            values=body.values,
            ids=body.ids,
            status=body.status,
            limit=body.limit,
            offset=body.offset,
            sort_by=body.sort_by,
            sort_order=body.sort_order,
            only=only,
        )
    items = []
    for row in rows:
        item = shapes.thread(row)
        if paths:
            item["extracted"] = {
                alias: extract.extract(item, path) for alias, path in paths.items()
            }
        items.append(select_fields(item, body.select and [*body.select, "extracted"]))
    return JsonResponse(items, headers=pagination_headers(total, body.offset, len(items)))


@router.post("/count")
async def count_threads(body: ThreadCount, resources: ResourcesDep, caller: CallerDep) -> int:
    value = search_value(
        body.metadata, limit=None, offset=None, values=body.values, status=body.status
    )
    only = await caller.authorize("threads", "search", value)
    return await threads.count(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        metadata=value["metadata"],
        values=body.values,
        status=body.status,
        only=only,
    )


@router.post("/prune")
async def prune_threads(
    body: ThreadPrune, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    only = await caller.authorize("threads", "delete", {"thread_ids": list(body.thread_ids)})
    found = await threads.existing_ids(
        resources.as_tenant(caller.tenant), caller.tenant, body.thread_ids, only=only
    )
    if body.strategy == "delete":
        for thread_id in found:
            await delete_thread_and_runs(resources, caller.tenant, thread_id)
    else:
        await stateops.prune_checkpoints(resources, found)
    return JsonResponse({"pruned_count": len(found)})


@router.get("/{thread_id}")
async def get_thread(thread_id: str, resources: ResourcesDep, caller: CallerDep) -> JsonResponse:
    return JsonResponse(shapes.thread(await require_thread(resources, caller, thread_id)))


@router.patch("/{thread_id}")
async def patch_thread(
    thread_id: str, body: ThreadPatch, request: Request, resources: ResourcesDep, caller: CallerDep
) -> Response:
    tid = parse_uuid(thread_id, "thread")
    value: dict[str, Any] = {"thread_id": tid, "metadata": body.metadata}
    only = await caller.authorize("threads", "update", value)
    async with resources.transaction(caller.tenant) as conn:
        if only is not None:
            await require_visible(conn, caller.tenant, tid, only)
        row = await threads.patch(
            conn,
            caller.tenant,
            tid,
            metadata=value["metadata"],
            ttl_minutes=body.ttl.ttl if body.ttl else None,
            ttl_strategy=body.ttl.strategy if body.ttl else None,
        )
    if row is None:
        raise NotFoundError(f"Thread with ID {thread_id} not found")
    if "return=minimal" in request.headers.get("prefer", ""):
        return Response(status_code=204)
    return JsonResponse(shapes.thread(row))


async def require_visible(conn: Executor, tenant: str, thread_id: UUID, only: Filter) -> None:
    """Lock the thread if ``only`` lets the caller reach it, before changing it; else 404."""
    if await threads.get(conn, tenant, thread_id, lock=True, only=only) is None:
        raise NotFoundError(f"Thread with ID {thread_id} not found")


async def delete_thread_and_runs(resources: Resources, tenant: str, thread_id: UUID) -> bool:
    """Stop the thread's active runs, then delete it, its runs and its checkpoints."""
    active = await runs.active_on_thread(resources.as_tenant(tenant), thread_id)
    await cancel.cancel(resources, tenant, [row["run_id"] for row in active], "interrupt")
    async with resources.transaction(tenant) as conn:
        if not await threads.delete(conn, tenant, thread_id):
            return False
        await delete_thread_checkpoints(conn, str(thread_id))
    return True


@router.delete("/{thread_id}", status_code=204)
async def delete_thread(thread_id: str, resources: ResourcesDep, caller: CallerDep) -> Response:
    tid = parse_uuid(thread_id, "thread")
    only = await caller.authorize("threads", "delete", {"thread_id": tid})
    if only is not None:
        await require_visible(resources.as_tenant(caller.tenant), caller.tenant, tid, only)
    if not await delete_thread_and_runs(resources, caller.tenant, tid):
        raise NotFoundError(f"Thread with ID {thread_id} not found")
    return Response(status_code=204)


@router.post("/{thread_id}/copy")
async def copy_thread(thread_id: str, resources: ResourcesDep, caller: CallerDep) -> JsonResponse:
    source = parse_uuid(thread_id, "thread")
    target = uuid7()
    only = await caller.authorize("threads", "read", {"thread_id": source})
    async with resources.transaction(caller.tenant) as conn:
        if only is not None:
            await require_visible(conn, caller.tenant, source, only)
        row = await threads.copy(conn, caller.tenant, source, target)
        if row is None:
            raise NotFoundError(f"Thread with ID {source} not found")
        await copy_thread_checkpoints(conn, str(source), str(target))
    return JsonResponse(shapes.thread(row))
