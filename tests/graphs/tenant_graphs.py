"""A graph that shows what its run sees of the store: for tests of tenant isolation."""

from __future__ import annotations

from typing import Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore


class StoreView(TypedDict, total=False):
    user: str
    note: str
    recalled: dict[str, Any] | None
    items: list[str]
    namespaces: list[list[str]]


async def look(state: StoreView, *, store: BaseStore) -> StoreView:
    """Recalls the user's note and stores the new one, then reports every item and namespace
    the store shows this run."""
    namespace = ("memories", state.get("user") or "anonymous")
    previous = await store.aget(namespace, "note")
    if state.get("note"):
        await store.aput(namespace, "note", {"text": state["note"]})
    found = await store.asearch((), limit=100)
    listed = await store.alist_namespaces(limit=100)
    return {
        "recalled": previous.value if previous is not None else None,
        "items": sorted("/".join((*item.namespace, item.key)) for item in found),
        "namespaces": sorted(list(namespace) for namespace in listed),
    }


_store_view = StateGraph(StoreView)
_store_view.add_node("look", look)
_store_view.add_edge(START, "look")
_store_view.add_edge("look", END)
store_view = _store_view.compile()
