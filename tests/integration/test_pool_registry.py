"""The registry's side of worker pools (issue 14): a pool reports with its team's worker
credentials and hears the load of the graphs its team may serve; the metrics show pools and
per-graph load; and the attacks of a team's pool on another team's workers and graphs fail."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import nats.errors
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from nats.aio.client import Client
from natskit import Violations
from serverkit import FAST_TIMINGS
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM, team_user
from agentlist.contracts.workers import (
    GraphInfo,
    GraphLoad,
    PoolReply,
    PoolReport,
    RegisterReply,
    WorkerRegister,
)
from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.credentials import add_team

GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "graphs.py"
POOL_GONE_AFTER = 4.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Stack]:
    """A stack of its own (its runs of a graph nobody serves stay pending), with one worker of
    the default team serving ``agent``."""
    folder = tmp_path_factory.mktemp("pools")
    config = folder / "langgraph.json"
    config.write_text(
        json.dumps({"dependencies": [str(GRAPHS.parent)], "graphs": {"agent": f"{GRAPHS}:agent"}})
    )
    env = {**FAST_TIMINGS, "AGENTLIST_REGISTRY_POOL_GONE_AFTER_SECONDS": str(POOL_GONE_AFTER)}
    options = StackOptions(graphs_config=config, log_dir=log_dir / "pools", env=env)
    with Stack(options) as stack:
        yield stack


@pytest.fixture(scope="module")
def search_url(mesh: Stack) -> str:
    """Team ``search``, allowed graph ``searcher`` (which no worker serves)."""
    add_team(mesh.data_dir, "search", ["searcher"])
    env_file = mesh.data_dir / f"{team_user('search')}.env"
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines())["NATS_URL"]


@pytest_asyncio.fixture
async def search_pool(search_url: str) -> AsyncIterator[tuple[Client, Violations]]:
    violations = Violations()
    client = await nats.connect(
        search_url,
        inbox_prefix=f"_INBOX_{team_user('search')}",
        error_cb=violations.record,
        allow_reconnect=False,
    )
    yield client, violations
    await client.close()


@pytest_asyncio.fixture
async def own_pool(mesh: Stack) -> AsyncIterator[Client]:
    """The stack's own team's credentials, as ``agentlist pool`` uses them."""
    client = await nats.connect(mesh.url_as(mesh.nats_url, "worker"), inbox_prefix="_INBOX_worker")
    yield client
    await client.close()


async def report(client: Client, team: str, **fields: Any) -> PoolReply:
    message = PoolReport.model_validate({"minimum": 0, "maximum": 3, "target": 1, **fields})
    answer = await client.request(
        subjects.registry_pool(team), message.model_dump_json().encode(), timeout=5
    )
    return PoolReply.model_validate_json(answer.data)


async def register(client: Client, team: str, worker_id: str, *graph_ids: str) -> None:
    message = WorkerRegister(
        worker_id=worker_id,
        language="python",
        version="1",
        host="pool-test",
        pid=1,
        capacity=4,
        graphs=[GraphInfo(graph_id=g) for g in graph_ids],
    )
    answer = await client.request(
        subjects.registry_register(team), message.model_dump_json().encode(), timeout=5
    )
    assert RegisterReply.model_validate_json(answer.data).accepted


def without_age(pool: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in pool.items() if key != "seconds_since_report"}


async def db_value(mesh: Stack, query: str, *args: object) -> Any:
    conn = await asyncpg.connect(mesh.database_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


async def own_worker(mesh: Stack) -> str:
    found: str = await eventually(
        lambda: db_value(
            mesh,
            "SELECT worker_id FROM workers WHERE team = $1 AND host <> 'pool-test'"
            " AND state = 'healthy' LIMIT 1",
            DEFAULT_TEAM,
        ),
        within=60,
        what="the stack's worker",
    )
    return found


async def test_a_pool_hears_its_graphs_load_and_the_metrics_show_it(
    mesh: Stack, search_pool: tuple[Client, Violations]
) -> None:
    team, _ = search_pool
    # A child of the pool registers (making the graph known), then dies: the pool says so.
    await register(team, "search", "search-w1", "searcher")
    reply = await report(
        team, "search", pool_id="p-search", graphs=["searcher"], workers=["search-w1"]
    )
    assert [(w.worker_id, w.state, w.capacity) for w in reply.workers] == [
        ("search-w1", "healthy", 4)
    ]
    assert reply.graphs == [
        GraphLoad(graph_id="searcher", pending=0, running=0, healthy_capacity=4)
    ]
    reply = await report(
        team,
        "search",
        pool_id="p-search",
        graphs=["searcher"],
        workers=[],
        lost=["search-w1"],
        target=2,
        reason="3 runs pending, no capacity",
    )
    assert reply.graphs == [
        GraphLoad(graph_id="searcher", pending=0, running=0, healthy_capacity=0)
    ]
    assert await db_value(mesh, "SELECT state FROM workers WHERE worker_id = 'search-w1'") == (
        "dead"
    )

    # Runs of the graph wait for a worker that is not up: the pool hears them pending.
    sdk = get_client(url=mesh.api_url)
    said: dict[str, Any] = {"messages": [{"role": "user", "content": "waits"}]}
    for _ in range(3):
        await sdk.runs.create(None, "searcher", input=said)
    reply = await report(
        team,
        "search",
        pool_id="p-search",
        graphs=["searcher"],
        workers=["search-w1"],
        target=2,
        reason="3 runs pending, no capacity",
    )
    assert reply.graphs == [
        GraphLoad(graph_id="searcher", pending=3, running=0, healthy_capacity=0)
    ]
    assert [(w.worker_id, w.state) for w in reply.workers] == [("search-w1", "dead")]

    async with httpx.AsyncClient(base_url=mesh.api_url) as http:
        text = (await http.get("/metrics")).text
        depth = (await http.get("/metrics/queue-depth")).json()
        pools = (await http.get("/metrics/workers")).json()["pools"]
        listed = (await http.get("/workers/pools")).json()
        workers = (await http.get("/workers")).json()
        health = (await http.get("/health")).json()
    # No worker is up, but the live pool starts one for its graph's runs: the graph is served.
    assert "searcher" in health["graphs"]
    assert 'agentlist_graph_pending_runs{graph_id="searcher"} 3' in text
    assert 'agentlist_graph_running_runs{graph_id="searcher"} 0' in text
    assert 'agentlist_graph_healthy_capacity{graph_id="searcher"} 0' in text
    assert 'agentlist_graph_healthy_capacity{graph_id="agent"} 10' in text
    assert 'agentlist_pool_target_workers{pool_id="p-search",team="search"} 2' in text
    assert 'agentlist_pool_workers{pool_id="p-search",team="search"} 1' in text
    assert 'agentlist_pool_max_workers{pool_id="p-search",team="search"} 3' in text
    (searcher,) = [g for g in depth["graphs"] if g["graph_id"] == "searcher"]
    assert searcher == {"graph_id": "searcher", "pending": 3, "running": 0, "healthy_capacity": 0}
    assert [without_age(p) for p in pools] == [without_age(p) for p in listed]
    (pool,) = [p for p in pools if p["pool_id"] == "p-search"]
    assert (pool["team"], pool["target"], pool["size"], pool["minimum"], pool["maximum"]) == (
        "search",
        2,
        1,
        0,
        3,
    )
    assert pool["reason"] == "3 runs pending, no capacity" and pool["graphs"] == ["searcher"]
    assert 0 <= pool["seconds_since_report"] < POOL_GONE_AFTER
    (child,) = [w for w in workers if w["worker_id"] == "search-w1"]
    assert child["pool_id"] == "p-search"

    # A pool silent for long is gone: from every view, and from the table.
    async def listed_pools() -> list[str]:
        async with httpx.AsyncClient(base_url=mesh.api_url) as http:
            return [p["pool_id"] for p in (await http.get("/workers/pools")).json()]

    await eventually(
        listed_pools, lambda ids: "p-search" not in ids, within=POOL_GONE_AFTER + 10, what="gone"
    )
    await eventually(
        lambda: db_value(mesh, "SELECT count(*) FROM pools WHERE pool_id = 'p-search'"),
        lambda n: n == 0,
        within=10,
        what="the silent pool deleted",
    )


async def test_a_team_s_pool_cannot_kill_or_see_another_team_s_workers_and_graphs(
    mesh: Stack, search_pool: tuple[Client, Violations], own_pool: Client
) -> None:
    team, violations = search_pool
    victim = await own_worker(mesh)

    # Declaring the stack's own worker lost, and an id nobody has; asking for its graph.
    reply = await report(
        team,
        "search",
        pool_id="p-attack",
        graphs=["agent"],
        workers=[victim],
        lost=[victim, "nobody-at-all"],
    )
    assert reply == PoolReply(graphs=[], workers=[])
    assert await db_value(mesh, "SELECT state FROM workers WHERE worker_id = $1", victim) == (
        "healthy"
    )
    assert (
        await db_value(mesh, "SELECT count(*) FROM workers WHERE worker_id = 'nobody-at-all'") == 0
    )
    # The victim still serves: a run of its graph ends well, on it.
    sdk = get_client(url=mesh.api_url)
    said: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    run = await sdk.runs.wait(None, "agent", input=said)
    assert isinstance(run, dict) and run["messages"][-1]["content"] == "echo: hi"

    # Reporting as the other team: NATS refuses the publish, no registry hears it.
    with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
        await report(team, DEFAULT_TEAM, pool_id="p-attack", graphs=["agent"], lost=[victim])
    assert violations.about(subjects.registry_pool(DEFAULT_TEAM)), violations.seen
    assert await db_value(mesh, "SELECT state FROM workers WHERE worker_id = $1", victim) == (
        "healthy"
    )

    # The victim's own team hears its graph and its worker.
    reply = await report(
        own_pool, DEFAULT_TEAM, pool_id="p-own", graphs=["agent"], workers=[victim]
    )
    assert reply.graphs == [GraphLoad(graph_id="agent", pending=0, running=0, healthy_capacity=10)]
    assert [(w.worker_id, w.state, w.inflight, w.capacity) for w in reply.workers] == [
        (victim, "healthy", 0, 10)
    ]


async def test_a_leaving_pool_is_gone_at_once_and_serves_its_graphs_no_more(
    mesh: Stack, search_pool: tuple[Client, Violations]
) -> None:
    team, _ = search_pool
    await register(team, "search", "search-w2", "searcher")
    await report(team, "search", pool_id="p-leaving", graphs=["searcher"], workers=["search-w2"])
    # Its child stops and deregisters, then the pool says goodbye (what SIGTERM does).
    await report(
        team,
        "search",
        pool_id="p-leaving",
        graphs=["searcher"],
        workers=[],
        lost=["search-w2"],
        target=0,
        leaving=True,
    )
    async with httpx.AsyncClient(base_url=mesh.api_url) as http:
        pools = (await http.get("/workers/pools")).json()
        health = (await http.get("/health")).json()
    assert "p-leaving" not in [p["pool_id"] for p in pools]
    assert "searcher" not in health["graphs"], "nobody serves it any more"
    assert "agent" in health["graphs"]
