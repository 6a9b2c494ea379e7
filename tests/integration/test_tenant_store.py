"""Each tenant's part of LangGraph's store (``agentlist.core.tenant_store``), in Postgres, in
both languages: the JS worker's ``TenantStore`` (its test/fixtures/tenantStoreProbe.ts) labels
items exactly as Python's does, so a tenant's Python graphs, JS graphs and clients share them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
import pytest_asyncio
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.store.base import BaseStore, InvalidNamespaceError, Item
from langgraph.store.postgres.aio import AsyncPostgresStore
from workerkit import run_store_probe

from agentlist.core.langgraph_tables import open_pool, setup_tables
from agentlist.core.tenant_store import TenantStore, tenant_label
from agentlist.launcher import Stack
from agentlist.launcher.jsworker import worker_js_dir

PROBE = worker_js_dir() / "test" / "fixtures" / "tenantStoreProbe.ts"


@pytest_asyncio.fixture
async def raw(servers: Stack) -> AsyncIterator[AsyncPostgresStore]:
    """Every tenant's items, as the workers and the API hold them."""
    pool = await open_pool(servers.database_url, 2)
    try:
        store = AsyncPostgresStore(pool)
        await setup_tables(servers.database_url, AsyncPostgresSaver(pool), store)
        yield store
    finally:
        await pool.close()


def tenants() -> tuple[str, str]:
    """Two new tenants, one's name a prefix of the other's, with the characters a tenant may
    have that a namespace label may not ('.', and ':' in LangGraph.js)."""
    first = f"acme.eu:{uuid.uuid4().hex[:8]}"
    return first, f"{first}.b"


def names(items: Sequence[Item] | Sequence[tuple[str, ...]]) -> list[str]:
    return sorted(
        "/".join((*item.namespace, item.key)) if isinstance(item, Item) else "/".join(item)
        for item in items
    )


async def test_tenants_share_namespaces_and_keys_but_no_items(raw: AsyncPostgresStore) -> None:
    a_name, b_name = tenants()
    a, b = TenantStore(raw, a_name), TenantStore(raw, b_name)
    await a.aput(("memories", "ada"), "note", {"text": "a's"})
    await b.aput(("memories", "ada"), "note", {"text": "b's"})
    await b.aput(("b-only", "x"), "k", {"text": "b's too"})

    a_item = await a.aget(("memories", "ada"), "note")
    assert a_item is not None
    assert (a_item.namespace, a_item.value) == (("memories", "ada"), {"text": "a's"})
    assert names(await a.asearch((), limit=100)) == ["memories/ada/note"]
    assert names(await a.asearch((), filter={"text": "b's"})) == []
    assert await a.aget(("b-only", "x"), "k") is None
    assert await a.alist_namespaces() == [("memories", "ada")]
    assert await a.alist_namespaces(max_depth=1) == [("memories",)]
    assert await a.alist_namespaces(suffix=("x",)) == []
    assert await b.alist_namespaces(suffix=("x",)) == [("b-only", "x")]
    assert await b.alist_namespaces(prefix=("memories",)) == [("memories", "ada")]

    await a.adelete(("memories", "ada"), "note")
    assert await a.aget(("memories", "ada"), "note") is None
    b_item = await b.aget(("memories", "ada"), "note")
    assert b_item is not None and b_item.value == {"text": "b's"}

    label = tenant_label(b_name)
    assert "." not in label and ":" not in label
    physical = await raw.asearch((label,), limit=100)
    assert names(physical) == [f"{label}/b-only/x/k", f"{label}/memories/ada/note"]


@pytest.mark.parametrize("namespace", [("__tenant__x",), ("__tenant__", "y")])
async def test_no_namespace_starts_with_the_reserved_label(
    raw: AsyncPostgresStore, namespace: tuple[str, ...]
) -> None:
    store: BaseStore = TenantStore(raw, tenants()[0])
    with pytest.raises(InvalidNamespaceError):
        await store.aput(namespace, "k", {})
    with pytest.raises(InvalidNamespaceError):
        await store.aget(namespace, "k")
    with pytest.raises(InvalidNamespaceError):
        await store.asearch(namespace)
    with pytest.raises(InvalidNamespaceError):
        await store.alist_namespaces(prefix=namespace)
    assert await store.asearch(("x", *namespace)) == []


async def test_the_js_store_labels_tenants_as_python_does(
    raw: AsyncPostgresStore, servers: Stack
) -> None:
    mine, other = tenants()
    ours, theirs = TenantStore(raw, mine), TenantStore(raw, other)
    await ours.aput(("shared", "ns"), "from_python", {"by": "python"})
    await theirs.aput(("shared", "ns"), "k", {"by": "other"})
    await theirs.aput(("theirs",), "k", {"by": "python"})

    seen = run_store_probe(PROBE, mine, servers.database_url)

    assert seen["from_python"] == {
        "namespace": ["shared", "ns"],
        "key": "from_python",
        "value": {"by": "python"},
    }
    assert seen["everything"] == ["shared/ns/from_python", "shared/ns/k"]
    assert seen["under_shared"] == seen["everything"]
    assert seen["by_python"] == ["shared/ns/from_python"]
    assert seen["namespaces"] == [["shared", "ns"]]
    assert seen["depth_1"] == [["shared"]]
    assert seen["ending_ns"] == [["shared", "ns"]]
    assert seen["reserved_put"] == seen["reserved_search"] == "InvalidNamespaceError"

    from_js = await ours.aget(("shared", "ns"), "k")
    assert from_js is not None and from_js.value == {"by": "js"}
    untouched = await theirs.aget(("shared", "ns"), "k")
    assert untouched is not None and untouched.value == {"by": "other"}
