"""Assistants: a graph with a configuration, versioned. Every registered graph has a system
assistant (created by the registry) whose id is ``uuid5(NAMESPACE, graph_id)``: every tenant
sees it and runs it, so only an operator changes or deletes it, and a tenant that wants another
configuration creates an assistant of its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api import shapes
from agentlist.api.auth import filters
from agentlist.api.auth.custom import Action, search_value
from agentlist.api.auth.gate import Caller
from agentlist.api.db import assistants, threads
from agentlist.api.deps import CallerDep, Resources, ResourcesDep
from agentlist.api.enqueue import parse_assistant_ref
from agentlist.api.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnprocessableError,
)
from agentlist.api.params import (
    json_object,
    model_of_query,
    pagination_headers,
    select_fields,
    truthy,
)
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import (
    AssistantCount,
    AssistantCreate,
    AssistantLatest,
    AssistantPatch,
    AssistantSearch,
    AssistantVersionsSearch,
)
from agentlist.contracts.ids import uuid7

router = APIRouter(prefix="/assistants", tags=["Assistants"])


async def _require_graph(resources: Resources, graph_id: str) -> None:
    if not await assistants.graph_registered(resources.pool, graph_id):
        known = await assistants.registered_graphs(resources.pool)
        raise NotFoundError(f"Graph '{graph_id}' not found. Expected one of: {known}")


async def require_assistant(
    resources: Resources, caller: Caller, assistant_ref: str, action: Action = "read"
) -> Any:
    """The assistant, once the caller's ``assistants`` handler allows ``action`` on it; one its
    filter excludes is not found, as if it did not exist."""
    assistant_id = parse_assistant_ref(assistant_ref)
    only = await caller.authorize("assistants", action, {"assistant_id": assistant_id})
    row = await assistants.get(resources.as_tenant(caller.tenant), caller.tenant, assistant_id)
    if row is None or filters.excludes(only, row["metadata"]):
        raise NotFoundError(f"Assistant {assistant_ref} not found")
    return row


async def _require_changeable(
    resources: Resources, caller: Caller, assistant_ref: str, action: Action
) -> list[str]:
    """The tenants whose assistants the caller may change, once it may ``action`` this one: a
    system assistant is what every tenant's runs use, so only an operator changes it."""
    row = await require_assistant(resources, caller, assistant_ref, action)
    if assistants.is_system(row) and not caller.operator:
        raise ForbiddenError(
            f"Assistant {assistant_ref} is the system assistant of graph '{row['graph_id']}',"
            " shared by every tenant; create an assistant of your own for the graph"
            " (POST /assistants) to change its configuration"
        )
    return assistants.writable(caller.tenant, operator=caller.operator)


async def _graph_of(resources: Resources, caller: Caller, assistant_ref: str) -> Any:
    row = await require_assistant(resources, caller, assistant_ref)
    graph = await assistants.graph(resources.pool, row["graph_id"])
    if graph is None:
        raise NotFoundError(f"Graph '{row['graph_id']}' is not registered by any worker")
    return graph


@router.post("")
async def create_assistant(
    body: AssistantCreate, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    await _require_graph(resources, body.graph_id)
    assistant_id = body.assistant_id or uuid7()
    value: dict[str, Any] = {
        "assistant_id": assistant_id,
        "graph_id": body.graph_id,
        "config": body.config or {},
        "context": body.context or {},
        "metadata": dict(body.metadata or {}),
        "if_exists": body.if_exists,
        "name": body.name or "Untitled",
        "description": body.description,
    }
    only = await caller.authorize("assistants", "create", value)
    row = await assistants.insert(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        assistant_id,
        graph_id=body.graph_id,
        name=value["name"],
        description=value["description"],
        config=value["config"],
        context=value["context"],
        metadata=value["metadata"],
    )
    if row is None:
        existing = await assistants.get(
            resources.as_tenant(caller.tenant), caller.tenant, assistant_id
        )
        if (
            existing is None
            or filters.excludes(only, existing["metadata"])
            or body.if_exists != "do_nothing"
        ):
            raise ConflictError(f"Assistant {assistant_id} already exists")
        row = existing
    return JsonResponse(shapes.assistant(row))


@router.get("")
async def list_assistants(
    resources: ResourcesDep,
    caller: CallerDep,
    limit: int | None = None,
    offset: int | None = None,
    graph_id: str | None = None,
    name: str | None = None,
    metadata: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> JsonResponse:
    """The seed's listing: ``POST /assistants/search`` as query parameters (``metadata`` as
    JSON), under the same handlers."""
    body = model_of_query(
        AssistantSearch,
        {
            "limit": limit,
            "offset": offset,
            "graph_id": graph_id,
            "name": name,
            "metadata": json_object(metadata, "metadata"),
            "sort_by": sort_by,
            "sort_order": sort_order,
        },
    )
    return await search_assistants(body, resources, caller)


@router.post("/search")
async def search_assistants(
    body: AssistantSearch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    value = search_value(
        body.metadata, limit=body.limit, offset=body.offset, graph_id=body.graph_id
    )
    only = await caller.authorize("assistants", "search", value)
    async with resources.transaction(caller.tenant) as conn:
        rows, total = await assistants.search(
            conn,
            caller.tenant,
            metadata=value["metadata"],
            graph_id=body.graph_id,
            name=body.name,
            limit=body.limit,
            offset=body.offset,
            sort_by=body.sort_by,
            sort_order=body.sort_order,
            only=only,
        )
    items = [select_fields(shapes.assistant(row), body.select) for row in rows]
    return JsonResponse(items, headers=pagination_headers(total, body.offset, len(items)))


@router.post("/count")
async def count_assistants(body: AssistantCount, resources: ResourcesDep, caller: CallerDep) -> int:
    value = search_value(body.metadata, limit=None, offset=None, graph_id=body.graph_id)
    only = await caller.authorize("assistants", "search", value)
    return await assistants.count(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        metadata=value["metadata"],
        graph_id=body.graph_id,
        name=body.name,
        only=only,
    )


@router.get("/{assistant_id}")
async def get_assistant(
    assistant_id: str, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    return JsonResponse(shapes.assistant(await require_assistant(resources, caller, assistant_id)))


@router.patch("/{assistant_id}")
async def patch_assistant(
    assistant_id: str, body: AssistantPatch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    writable = await _require_changeable(resources, caller, assistant_id, "update")
    if body.graph_id is not None:
        await _require_graph(resources, body.graph_id)
    async with resources.transaction(caller.tenant, operator=caller.operator) as conn:
        row = await assistants.add_version(
            conn,
            writable,
            parse_assistant_ref(assistant_id),
            graph_id=body.graph_id,
            name=body.name,
            description=body.description,
            config=body.config,
            context=body.context,
            metadata=body.metadata,
        )
    if row is None:
        raise NotFoundError(f"Assistant {assistant_id} not found")
    return JsonResponse(shapes.assistant(row))


@router.delete("/{assistant_id}", status_code=204)
async def delete_assistant(
    assistant_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    delete_threads: str | None = None,
) -> Response:
    writable = await _require_changeable(resources, caller, assistant_id, "delete")
    target = parse_assistant_ref(assistant_id)
    async with resources.transaction(caller.tenant, operator=caller.operator) as conn:
        if not await assistants.delete(conn, writable, target):
            raise NotFoundError(f"Assistant {assistant_id} not found")
        if truthy(delete_threads):
            # Only the threads the caller could delete one by one.
            value = {"metadata": {"assistant_id": str(target)}}
            only = await caller.authorize("threads", "delete", value)
            await threads.delete_by_metadata(conn, caller.tenant, value["metadata"], only=only)
    return Response(status_code=204)


@router.post("/{assistant_id}/versions")
async def assistant_versions(
    assistant_id: str, body: AssistantVersionsSearch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    tenant = caller.tenant
    await require_assistant(resources, caller, assistant_id)
    rows = await assistants.versions(
        resources.as_tenant(tenant),
        tenant,
        parse_assistant_ref(assistant_id),
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
    )
    if not rows:
        raise NotFoundError(f"Assistant {assistant_id} not found")
    return JsonResponse([shapes.assistant_version(row) for row in rows])


@router.post("/{assistant_id}/latest")
async def set_latest_version(
    assistant_id: str, body: AssistantLatest, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    writable = await _require_changeable(resources, caller, assistant_id, "update")
    row = await assistants.set_latest(
        resources.as_tenant(caller.tenant, operator=caller.operator),
        writable,
        parse_assistant_ref(assistant_id),
        body.version,
    )
    if row is None:
        raise NotFoundError(f"Version {body.version} of assistant {assistant_id} not found")
    return JsonResponse(shapes.assistant(row))


@router.get("/{assistant_id}/schemas")
async def assistant_schemas(
    assistant_id: str, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    graph = await _graph_of(resources, caller, assistant_id)
    schemas = graph["schemas"] or {}
    return JsonResponse(
        {
            "graph_id": graph["graph_id"],
            **{
                key: schemas.get(key)
                for key in (
                    "input_schema",
                    "output_schema",
                    "state_schema",
                    "config_schema",
                    "context_schema",
                )
            },
        }
    )


def _xray_depth(xray: str | None, available: list[int]) -> int:
    if xray is None or xray.lower() in ("false", "0", ""):
        return 0
    if xray.lower() == "true":
        return max(available)
    try:
        depth = int(xray)
    except ValueError:
        raise UnprocessableError("xray must be a boolean or a positive integer") from None
    if depth < 0:
        raise UnprocessableError("xray must be a boolean or a positive integer")
    return min(depth, max(available))


@router.get("/{assistant_id}/graph")
async def assistant_graph(
    assistant_id: str, resources: ResourcesDep, caller: CallerDep, xray: str | None = None
) -> JsonResponse:
    graph = await _graph_of(resources, caller, assistant_id)
    drawable: dict[str, Any] = graph["drawable"] or {}
    available = sorted(int(depth) for depth in drawable if depth.isdigit())
    if not available:
        raise UnprocessableError(f"Graph '{graph['graph_id']}' cannot be drawn")
    return JsonResponse(drawable[str(_xray_depth(xray, available))])


def _subgraphs(graph: Any, namespace: str | None, recurse: bool) -> dict[str, Any]:
    found: dict[str, Any] = graph["subgraphs"] or {}
    if namespace is not None:
        return {
            ns: schemas
            for ns, schemas in found.items()
            if ns == namespace or (recurse and ns.startswith(f"{namespace}|"))
        }
    return {ns: schemas for ns, schemas in found.items() if recurse or "|" not in ns}


@router.get("/{assistant_id}/subgraphs")
async def assistant_subgraphs(
    assistant_id: str, resources: ResourcesDep, caller: CallerDep, recurse: str | None = None
) -> JsonResponse:
    graph = await _graph_of(resources, caller, assistant_id)
    return JsonResponse(_subgraphs(graph, None, truthy(recurse)))


@router.get("/{assistant_id}/subgraphs/{namespace}")
async def assistant_subgraphs_in(
    assistant_id: str,
    namespace: str,
    resources: ResourcesDep,
    caller: CallerDep,
    recurse: str | None = None,
) -> JsonResponse:
    graph = await _graph_of(resources, caller, assistant_id)
    return JsonResponse(_subgraphs(graph, namespace, truthy(recurse)))
