"""The JS worker's store is Python's: same table, same answers (its test/fixtures/storeProbe.ts)."""

from __future__ import annotations

import uuid

from langgraph.store.postgres.aio import AsyncPostgresStore
from workerkit import run_store_probe

from agentlist.launcher import Stack
from agentlist.launcher.jsworker import worker_js_dir

PROBE = worker_js_dir() / "test" / "fixtures" / "storeProbe.ts"


async def test_js_store_reads_and_writes_pythons_store_table(servers: Stack) -> None:
    root = f"probe{uuid.uuid4().hex[:8]}"
    seen = run_store_probe(PROBE, root, servers.database_url)
    assert seen["get"] == {
        "namespace": [root, "alice", "prefs"],
        "key": "theme",
        "value": {"color": "dark", "n": 5},
    }
    assert seen["missing"] is None
    assert seen["under_bob"] == [f"{root}/bob/prefs/theme"]
    assert seen["dark"] == [f"{root}/alice/prefs/theme", f"{root}/bob_x/k"]
    assert seen["over_3"] == seen["dark"]
    assert seen["not_dark"] == [f"{root}/bob/prefs/theme"]
    assert seen["page"] == 2

    async with AsyncPostgresStore.from_conn_string(servers.database_url) as python:
        item = await python.aget((root, "alice", "prefs"), "theme")
        assert item is not None and item.value == {"color": "dark", "n": 5}
        assert await python.aget((root, "gone"), "k") is None
        for key, kwargs in (
            ("namespaces", {}),
            ("depth_2", {"max_depth": 2}),
        ):
            listed = await python.alist_namespaces(prefix=(root,), **kwargs)  # type: ignore[arg-type]
            assert seen[key] == [list(namespace) for namespace in listed]
        wildcard = await python.alist_namespaces(prefix=(root, "*", "prefs"))
        assert seen["wildcard"] == [list(namespace) for namespace in wildcard]
        await python.aput((root, "from-python"), "k", {"by": "python"})
        found = await python.asearch((root,), filter={"color": "dark"})
        assert sorted("/".join((*i.namespace, i.key)) for i in found) == seen["dark"]
