"""Assistants: a graph with a configuration, versioned. Every registered graph has a system
assistant (created by the registry) whose id is ``uuid5(NAMESPACE, graph_id)``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api import shapes
from agentlist.api.db import assistants, threads
from agentlist.api.deps import Resources, ResourcesDep, TenantDep
from agentlist.api.enqueue import parse_assistant_ref
from agentlist.api.errors import ConflictError, NotFoundError, UnprocessableError
from agentlist.api.params import pagination_headers, select_fields, truthy
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


async def _graph_of(resources: Resources, tenant: str, assistant_ref: str) -> Any:
    row = await assistants.get(resources.pool, tenant, parse_assistant_ref(assistant_ref))
    if row is None:
        raise NotFoundError(f"Assistant {assistant_ref} not found")
    graph = await assistants.graph(resources.pool, row["graph_id"])
    if graph is None:
        raise NotFoundError(f"Graph '{row['graph_id']}' is not registered by any worker")
    return graph


@router.post("")
async def create_assistant(
    body: AssistantCreate, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    await _require_graph(resources, body.graph_id)
    assistant_id = body.assistant_id or uuid7()
    row = await assistants.insert(
        resources.pool,
        tenant,
        assistant_id,
        graph_id=body.graph_id,
        name=body.name or "Untitled",
        description=body.description,
        config=body.config or {},
        context=body.context or {},
        metadata=body.metadata or {},
    )
    if row is None:
        existing = await assistants.get(resources.pool, tenant, assistant_id)
        if existing is None or body.if_exists != "do_nothing":
            raise ConflictError(f"Assistant {assistant_id} already exists")
        row = existing
    return JsonResponse(shapes.assistant(row))


@router.post("/search")
async def search_assistants(
    body: AssistantSearch, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    rows, total = await assistants.search(
        resources.pool,
        tenant,
        metadata=body.metadata,
        graph_id=body.graph_id,
        name=body.name,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    items = [select_fields(shapes.assistant(row), body.select) for row in rows]
    return JsonResponse(items, headers=pagination_headers(total, body.offset, len(items)))


@router.post("/count")
async def count_assistants(body: AssistantCount, resources: ResourcesDep, tenant: TenantDep) -> int:
    return await assistants.count(
        resources.pool, tenant, metadata=body.metadata, graph_id=body.graph_id, name=body.name
    )


@router.get("/{assistant_id}")
async def get_assistant(
    assistant_id: str, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    row = await assistants.get(resources.pool, tenant, parse_assistant_ref(assistant_id))
    if row is None:
        raise NotFoundError(f"Assistant {assistant_id} not found")
    return JsonResponse(shapes.assistant(row))


@router.patch("/{assistant_id}")
async def patch_assistant(
    assistant_id: str, body: AssistantPatch, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    if body.graph_id is not None:
        await _require_graph(resources, body.graph_id)
    async with resources.pool.acquire() as conn, conn.transaction():
        row = await assistants.add_version(
            conn,
            tenant,
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
    assistant_id: str, resources: ResourcesDep, tenant: TenantDep, delete_threads: str | None = None
) -> Response:
    target = parse_assistant_ref(assistant_id)
    async with resources.pool.acquire() as conn, conn.transaction():
        if not await assistants.delete(conn, tenant, target):
            raise NotFoundError(f"Assistant {assistant_id} not found")
        if truthy(delete_threads):
            await threads.delete_by_metadata(conn, tenant, {"assistant_id": str(target)})
    return Response(status_code=204)


@router.post("/{assistant_id}/versions")
async def assistant_versions(
    assistant_id: str, body: AssistantVersionsSearch, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    rows = await assistants.versions(
        resources.pool,
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
    assistant_id: str, body: AssistantLatest, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    row = await assistants.set_latest(
        resources.pool, tenant, parse_assistant_ref(assistant_id), body.version
    )
    if row is None:
        raise NotFoundError(f"Version {body.version} of assistant {assistant_id} not found")
    return JsonResponse(shapes.assistant(row))


@router.get("/{assistant_id}/schemas")
async def assistant_schemas(
    assistant_id: str, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    graph = await _graph_of(resources, tenant, assistant_id)
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
    assistant_id: str, resources: ResourcesDep, tenant: TenantDep, xray: str | None = None
) -> JsonResponse:
    graph = await _graph_of(resources, tenant, assistant_id)
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
    assistant_id: str, resources: ResourcesDep, tenant: TenantDep, recurse: str | None = None
) -> JsonResponse:
    graph = await _graph_of(resources, tenant, assistant_id)
    return JsonResponse(_subgraphs(graph, None, truthy(recurse)))


@router.get("/{assistant_id}/subgraphs/{namespace}")
async def assistant_subgraphs_in(
    assistant_id: str,
    namespace: str,
    resources: ResourcesDep,
    tenant: TenantDep,
    recurse: str | None = None,
) -> JsonResponse:
    graph = await _graph_of(resources, tenant, assistant_id)
    return JsonResponse(_subgraphs(graph, namespace, truthy(recurse)))
