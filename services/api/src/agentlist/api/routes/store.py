"""The long-term memory store: the same rows graphs read and write through LangGraph's
``get_store()`` (LangGraph's Postgres store, shared with the workers)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api.deps import ResourcesDep
from agentlist.api.errors import BadRequestError, UnprocessableError
from agentlist.api.params import truthy
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import StoreDelete, StoreNamespaces, StorePut, StoreSearch

router = APIRouter(prefix="/store", tags=["Store"])


def _namespace(labels: list[str]) -> tuple[str, ...]:
    for label in labels:
        if not label:
            raise UnprocessableError("Namespace labels cannot be empty strings")
        if "." in label:
            raise UnprocessableError(f"Namespace labels cannot contain periods ('.'): {label!r}")
    return tuple(labels)


@router.put("/items", status_code=204)
async def put_item(body: StorePut, resources: ResourcesDep) -> Response:
    namespace = _namespace(body.namespace)
    if not namespace:
        raise UnprocessableError("An item needs a namespace of at least one label")
    await resources.langgraph.store.aput(
        namespace, body.key, body.value, index=body.index, ttl=body.ttl
    )
    return Response(status_code=204)


@router.get("/items")
async def get_item(
    resources: ResourcesDep,
    namespace: str | None = None,
    key: str | None = None,
    refresh_ttl: str | None = None,
) -> JsonResponse:
    if not key:
        raise BadRequestError("Key is required")
    labels = namespace.split(".") if namespace else []
    item = await resources.langgraph.store.aget(
        _namespace(labels), key, refresh_ttl=truthy(refresh_ttl) if refresh_ttl else None
    )
    return JsonResponse(item.dict() if item is not None else None)


@router.delete("/items", status_code=204)
async def delete_item(body: StoreDelete, resources: ResourcesDep) -> Response:
    await resources.langgraph.store.adelete(_namespace(body.namespace), body.key)
    return Response(status_code=204)


@router.post("/items/search")
async def search_items(body: StoreSearch, resources: ResourcesDep) -> JsonResponse:
    if body.query:
        raise UnprocessableError(
            "Semantic search needs an embedding index, which this server has not configured"
        )
    items = await resources.langgraph.store.asearch(
        _namespace(body.namespace_prefix),
        filter=body.filter,
        limit=body.limit,
        offset=body.offset,
        refresh_ttl=body.refresh_ttl,
    )
    return JsonResponse({"items": [item.dict() for item in items]})


@router.post("/namespaces")
async def list_namespaces(body: StoreNamespaces, resources: ResourcesDep) -> JsonResponse:
    found = await resources.langgraph.store.alist_namespaces(
        prefix=_namespace(body.prefix) if body.prefix else None,
        suffix=_namespace(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return JsonResponse({"namespaces": [list(namespace) for namespace in found]})
