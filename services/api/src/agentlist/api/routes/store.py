"""The long-term memory store: the same rows graphs read and write through LangGraph's
``get_store()`` (LangGraph's Postgres store, shared with the workers), each tenant's under a
label of its own (:mod:`agentlist.core.tenant_store`) that its clients and graphs never see.

Custom auth's ``store`` handlers see ``namespace`` (a tuple they may replace, to put a caller's
items under a prefix of their own), ``key`` and, for puts, ``value``. A filter they return
narrows a search (AND-ed into its ``filter``) and hides a ``get`` whose value does not match;
the store can apply no filter to a put, a delete or a namespace listing, so there it is a 403.
The namespace they return is still in the tenant's own view: the tenant's label goes in front.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from langgraph.store.base import InvalidNamespaceError

from agentlist.api.auth import filters
from agentlist.api.auth.custom import Action
from agentlist.api.auth.gate import Caller
from agentlist.api.deps import CallerDep, Resources, ResourcesDep
from agentlist.api.errors import BadRequestError, ForbiddenError, UnprocessableError
from agentlist.api.params import truthy
from agentlist.api.responses import JsonResponse
from agentlist.api.schemas import (
    INT8_MAX,
    StoreBatchDelete,
    StoreBatchPut,
    StoreDelete,
    StoreNamespaces,
    StorePut,
    StoreSearch,
)
from agentlist.core.tenant_store import RESERVED_LABEL_PREFIX, TenantStore, is_reserved

router = APIRouter(prefix="/store", tags=["Store"])


def _namespace(labels: list[str]) -> tuple[str, ...]:
    for label in labels:
        if not label:
            raise UnprocessableError("Namespace labels cannot be empty strings")
        if "." in label:
            raise UnprocessableError(f"Namespace labels cannot contain periods ('.'): {label!r}")
        if "\x00" in label:
            raise UnprocessableError(f"Namespace labels cannot contain NUL bytes: {label!r}")
    namespace = tuple(labels)
    if is_reserved(namespace):
        raise UnprocessableError(
            f"A namespace cannot start with {RESERVED_LABEL_PREFIX!r}: the server reserves it"
        )
    return namespace


def _store(resources: Resources, caller: Caller) -> TenantStore:
    """The caller's tenant's part of the store, the part its graphs see."""
    return TenantStore(resources.langgraph.store, caller.tenant)


async def _authorized(caller: Caller, action: Action, value: dict[str, Any]) -> Any:
    """The handler's decision on ``value`` (whose ``namespace`` it may have rewritten): its
    filter where the action can apply one, else a filter is refused."""
    only = await caller.authorize("store", action, value)
    value["namespace"] = _namespace(list(value["namespace"] or ()))
    if only is not None and action not in ("search", "get"):
        raise ForbiddenError(f"A store {action} cannot be narrowed by a filter")
    return only


def _store_filter(only: filters.Filter) -> dict[str, Any]:
    """An authorization filter as LangGraph's store filter: exact matches only."""
    parts = only.parts if isinstance(only, filters.AllOf) else (only,)
    if not all(isinstance(part, filters.Equals) for part in parts):
        raise ForbiddenError("The store can apply only exact-match filters")
    return {part.key: part.value for part in parts if isinstance(part, filters.Equals)}


async def _authorized_put(caller: Caller, body: StorePut) -> dict[str, Any]:
    """The item as the caller's handler lets it be written (its namespace maybe rewritten)."""
    value: dict[str, Any] = {
        "namespace": tuple(body.namespace),
        "key": body.key,
        "value": body.value,
        "index": body.index,
    }
    await _authorized(caller, "put", value)
    if not value["namespace"]:
        raise UnprocessableError("An item needs a namespace of at least one label")
    return value


async def _write(store: TenantStore, value: dict[str, Any], ttl: float | None) -> None:
    try:
        await store.aput(value["namespace"], value["key"], value["value"], value["index"], ttl=ttl)
    except InvalidNamespaceError as exc:  # a namespace LangGraph reserves, like ("langgraph", ...)
        raise UnprocessableError(str(exc)) from None


@router.put("/items", status_code=204)
async def put_item(body: StorePut, resources: ResourcesDep, caller: CallerDep) -> Response:
    await _write(_store(resources, caller), await _authorized_put(caller, body), body.ttl)
    return Response(status_code=204)


@router.put("", status_code=204)
async def put_items(body: StoreBatchPut, resources: ResourcesDep, caller: CallerDep) -> Response:
    """The seed's batch upsert. Every item is authorized before any is written."""
    values = [await _authorized_put(caller, item) for item in body.items]
    store = _store(resources, caller)
    for value, item in zip(values, body.items, strict=True):
        await _write(store, value, item.ttl)
    return Response(status_code=204)


@router.delete("", status_code=204)
async def delete_items(
    body: StoreBatchDelete, resources: ResourcesDep, caller: CallerDep
) -> Response:
    """The seed's batch delete. Every item is authorized before any is deleted."""
    values = [await _authorized_delete(caller, item) for item in body.items]
    store = _store(resources, caller)
    for value in values:
        await store.adelete(value["namespace"], value["key"])
    return Response(status_code=204)


@router.get("")
async def list_items(
    resources: ResourcesDep,
    caller: CallerDep,
    namespace: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0, le=INT8_MAX)] = 0,
) -> JsonResponse:
    """The seed's listing: the items under a namespace prefix (``a.b``), as a search."""
    labels = namespace.split(".") if namespace else []
    return await search_items(
        StoreSearch(namespace_prefix=labels, limit=limit, offset=offset), resources, caller
    )


@router.get("/items")
async def get_item(
    resources: ResourcesDep,
    caller: CallerDep,
    namespace: str | None = None,
    key: str | None = None,
    refresh_ttl: str | None = None,
) -> JsonResponse:
    if not key:
        raise BadRequestError("Key is required")
    labels = namespace.split(".") if namespace else []
    value: dict[str, Any] = {"namespace": _namespace(labels), "key": key}
    only = await _authorized(caller, "get", value)
    item = await _store(resources, caller).aget(
        value["namespace"], key, refresh_ttl=truthy(refresh_ttl) if refresh_ttl else None
    )
    if item is not None and filters.excludes(only, item.value):
        item = None
    return JsonResponse(item.dict() if item is not None else None)


async def _authorized_delete(caller: Caller, body: StoreDelete) -> dict[str, Any]:
    value: dict[str, Any] = {"namespace": _namespace(body.namespace), "key": body.key}
    await _authorized(caller, "delete", value)
    return value


@router.delete("/items", status_code=204)
async def delete_item(body: StoreDelete, resources: ResourcesDep, caller: CallerDep) -> Response:
    value = await _authorized_delete(caller, body)
    await _store(resources, caller).adelete(value["namespace"], value["key"])
    return Response(status_code=204)


@router.post("/items/search")
async def search_items(
    body: StoreSearch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    if body.query:
        raise UnprocessableError(
            "Semantic search needs an embedding index, which this server has not configured"
        )
    value: dict[str, Any] = {
        "namespace": _namespace(body.namespace_prefix),
        "filter": body.filter,
        "limit": body.limit,
        "offset": body.offset,
        "query": body.query,
    }
    only = await _authorized(caller, "search", value)
    wanted = {**(value["filter"] or {}), **(_store_filter(only) if only is not None else {})}
    items = await _store(resources, caller).asearch(
        value["namespace"],
        filter=wanted or None,
        limit=body.limit,
        offset=body.offset,
        refresh_ttl=body.refresh_ttl,
    )
    return JsonResponse({"items": [item.dict() for item in items]})


@router.post("/namespaces")
async def list_namespaces(
    body: StoreNamespaces, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    value: dict[str, Any] = {
        "namespace": _namespace(body.prefix or []),
        "suffix": body.suffix,
        "max_depth": body.max_depth,
        "limit": body.limit,
        "offset": body.offset,
    }
    await _authorized(caller, "list_namespaces", value)
    found = await _store(resources, caller).alist_namespaces(
        prefix=value["namespace"] or None,
        suffix=_namespace(body.suffix) if body.suffix else None,
        max_depth=body.max_depth,
        limit=body.limit,
        offset=body.offset,
    )
    return JsonResponse({"namespaces": [list(namespace) for namespace in found]})
