"""What operators see: health of each dependency, workers with their load, metrics."""

from __future__ import annotations

import httpx

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
    live = [w for w in listed if w["state"] == "healthy"]
    assert live, listed
    worker = live[0]
    assert worker["language"] == "python" and "agent" in worker["graphs"]
    assert worker["capacity"] >= 1 and 0 <= worker["load"] <= 1
    assert worker["seconds_since_heartbeat"] < 5


async def test_prometheus_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.api_url) as http:
        text = (await http.get("/metrics")).text
        as_json = (await http.get("/metrics", params={"format": "json"})).json()
    assert "# TYPE agentlist_workers gauge" in text
    assert 'agentlist_workers{language="python",state="healthy"}' in text
    assert "agentlist_oldest_pending_run_seconds" in text
    assert {"runs", "workers", "oldest_pending_seconds"} <= set(as_json)
