"""What operators see: health of each dependency, workers with their load, metrics."""

from __future__ import annotations

import json
from typing import Any

import httpx
from serverkit import GRAPHS_CONFIG

from agentlist.launcher import Stack


async def test_health_lists_dependencies_workers_and_graphs(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        health = (await http.get("/health")).json()
    assert health["status"] == "ok"
    assert health["dependencies"] == {"postgres": "ok", "redis": "ok", "nats": "ok"}
    assert health["workers"].get("healthy", 0) >= 1 and "agent" in health["graphs"]


async def test_workers_listing(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        listed = (await http.get("/workers")).json()
    # Other stacks on the session's servers list theirs too: this stack's own is known.
    (own,) = stack.services_named("worker")
    (worker,) = [w for w in listed if w["pid"] == own.pid]
    assert worker["state"] == "healthy" and worker["language"] == "python"
    assert set(worker["graphs"]) == set(json.loads(GRAPHS_CONFIG.read_text())["graphs"])
    assert worker["capacity"] == 10, "the worker's default capacity"
    assert worker["load"] == worker["inflight"] / 10 and 0 <= worker["load"] <= 1
    assert worker["seconds_since_heartbeat"] < 5


async def test_prometheus_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        text = (await http.get("/metrics")).text
        as_json = (await http.get("/metrics", params={"format": "json"})).json()
    assert "# TYPE agentlist_workers gauge" in text
    assert 'agentlist_workers{language="python",state="healthy"}' in text
    assert "agentlist_oldest_pending_run_seconds" in text
    assert {"runs", "workers", "oldest_pending_seconds"} <= set(as_json)


async def test_queue_depth_workers_and_api_latency(stack: Stack, sdk: Any) -> None:
    thread = await sdk.threads.create()
    await sdk.runs.wait(thread["thread_id"], "agent", input={"messages": []})
    for _ in range(3):
        await sdk.threads.get(thread["thread_id"])
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        depth = (await http.get("/metrics/queue-depth")).json()
        workers = (await http.get("/metrics/workers")).json()
        latency = (await http.get("/metrics/api-latency")).json()["routes"]
    assert isinstance(depth["runs"], list) and depth["oldest_pending_seconds"] >= 0
    healthy = [w for w in workers["workers"] if w["state"] == "healthy"]
    python = [w for w in healthy if w["language"] == "python"]
    # Every stack on the session's servers counts: at least this stack's worker's 10 slots.
    assert len(python) == 1 and python[0]["capacity"] >= 10
    by_id = latency["GET /threads/{thread_id}"]
    assert by_id["count"] >= 3 and 0 < by_id["p50_ms"] <= by_id["p99_ms"] <= by_id["max_ms"]
    assert "POST /threads/{thread_id}/runs/wait" in latency
    assert not any(thread["thread_id"] in route for route in latency)


async def test_prometheus_has_a_latency_histogram_per_route(stack: Stack, sdk: Any) -> None:
    thread = await sdk.threads.create()
    for _ in range(3):
        await sdk.threads.get(thread["thread_id"])
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        text = (await http.get("/metrics")).text
    assert "# TYPE agentlist_api_request_seconds histogram" in text
    route = 'route="GET /threads/{thread_id}"'
    buckets = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("agentlist_api_request_seconds_bucket") and route in line
    ]
    assert len(buckets) == 12 and buckets == sorted(buckets), buckets
    count = next(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("agentlist_api_request_seconds_count") and route in line
    )
    assert count == buckets[-1] >= 3
    assert thread["thread_id"] not in text
