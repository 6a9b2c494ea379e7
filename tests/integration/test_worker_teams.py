"""Worker teams: credentials that serve only a team's graphs, given to a running stack by
``agentlist credentials worker``, and the attacks of an impostor worker performed with them."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import nats
import nats.errors
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from nats.aio.client import Client
from natskit import Violations, heard
from serverkit import FAST_TIMINGS
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM, team_user
from agentlist.contracts.workers import GraphInfo, RegisterReply, WorkerRegister
from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.credentials import add_team

GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "graphs.py"


def graphs_config(folder: Path, *graph_ids: str) -> Path:
    path = folder / f"{'-'.join(graph_ids)}.json"
    graphs = {graph_id: f"{GRAPHS}:agent" for graph_id in graph_ids}
    path.write_text(json.dumps({"dependencies": [str(GRAPHS.parent)], "graphs": graphs}))
    return path


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Stack]:
    """A stack of its own, whose registry reads the teams file of its data folder."""
    folder = tmp_path_factory.mktemp("teams")
    options = StackOptions(
        graphs_config=graphs_config(folder, "agent"), log_dir=log_dir / "teams", env=FAST_TIMINGS
    )
    with Stack(options) as stack:
        yield stack


def env_file_of(mesh: Stack, team: str) -> dict[str, str]:
    """The variables ``agentlist credentials worker`` wrote for ``team``'s workers."""
    env_file = mesh.data_dir / f"{team_user(team)}.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    return dict(line.split("=", 1) for line in env_file.read_text().splitlines())


@pytest.fixture(scope="module")
def search_env(mesh: Stack) -> dict[str, str]:
    """The team ``search``, allowed graph ``searcher``, added while the stack runs: what its
    workers join with."""
    lines = add_team(mesh.data_dir, "search", ["searcher"])
    env = env_file_of(mesh, "search")
    assert all(f"{name}={value}" in "\n".join(lines) for name, value in env.items())
    assert env["DATABASE_URL"].startswith("postgresql://agentlist_worker:")
    return env


@pytest.fixture(scope="module")
def search_url(search_env: dict[str, str]) -> str:
    return search_env["NATS_URL"]


@pytest_asyncio.fixture
async def admin(mesh: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(mesh.nats_url)
    yield client
    await client.close()


async def connect(url: str, violations: Violations) -> Client:
    return await nats.connect(
        url,
        inbox_prefix=f"_INBOX_{team_user('search')}",
        error_cb=violations.record,
        allow_reconnect=False,
    )


OTHER_TEAMS_DISPATCH = subjects.worker_dispatch(DEFAULT_TEAM, "w")


@pytest.mark.parametrize(
    ("listened", "sent"),
    [
        (">", OTHER_TEAMS_DISPATCH),
        ("agentlist.v1.workers.*.*.dispatch", OTHER_TEAMS_DISPATCH),
        ("agentlist.v1.workers.default.*.dispatch", OTHER_TEAMS_DISPATCH),
        (subjects.graph_state("agent"), subjects.graph_state("agent")),
        ("$JS.API.>", "$JS.API.INFO"),
        ("_INBOX_worker.>", "_INBOX_worker.x"),
    ],
)
async def test_team_credentials_hear_nothing_beyond_the_team(
    search_url: str, admin: Client, listened: str, sent: str
) -> None:
    violations = Violations()
    team = await connect(search_url, violations)
    try:
        assert await heard(team, listened, admin, sent) == []
        assert violations.about(listened), violations.seen
    finally:
        await team.close()


async def test_team_credentials_hear_their_own_dispatches(search_url: str, admin: Client) -> None:
    violations = Violations()
    team = await connect(search_url, violations)
    try:
        own = subjects.worker_dispatch("search", "w")
        assert await heard(team, own, admin, own, expected=True) == [b"someone else's"]
        state = subjects.graph_state("searcher")
        assert await heard(team, state, admin, state, expected=True) == [b"someone else's"]
        assert violations.seen == []
    finally:
        await team.close()


def registration(worker_id: str, *graph_ids: str) -> WorkerRegister:
    return WorkerRegister(
        worker_id=worker_id,
        language="python",
        version="1",
        host="impostor",
        pid=1,
        capacity=4,
        graphs=[GraphInfo(graph_id=g) for g in graph_ids],
    )


async def test_an_impostor_of_the_same_language_is_refused_the_other_teams_graph(
    mesh: Stack, search_url: str
) -> None:
    violations = Violations()
    team = await connect(search_url, violations)
    try:
        # As the stack's own team: the server refuses the publish, no registry hears it.
        with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
            await team.request(
                subjects.registry_register(DEFAULT_TEAM),
                registration("imp-1", "agent").model_dump_json().encode(),
                timeout=1,
            )
        assert violations.about(subjects.registry_register(DEFAULT_TEAM))
        # As itself: the graph of another team is refused, its own accepted.
        answer = await team.request(
            subjects.registry_register("search"),
            registration("imp-2", "agent", "searcher").model_dump_json().encode(),
            timeout=5,
        )
        reply = RegisterReply.model_validate_json(answer.data)
        assert reply.accepted
        assert list(reply.rejected_graphs) == ["agent"]
        # Taking over the stack's own worker's id (whose dispatches it would then get).
        own_worker = await worker_of_team(mesh, DEFAULT_TEAM)
        answer = await team.request(
            subjects.registry_register("search"),
            registration(own_worker, "searcher").model_dump_json().encode(),
            timeout=5,
        )
        assert not RegisterReply.model_validate_json(answer.data).accepted
        assert await worker_of_team(mesh, DEFAULT_TEAM) == own_worker
    finally:
        await team.close()


async def worker_of_team(mesh: Stack, team: str) -> str:
    conn = await asyncpg.connect(mesh.database_url)
    try:
        found: str = await conn.fetchval(
            "SELECT worker_id FROM workers WHERE team = $1 AND host <> 'impostor'"
            " ORDER BY last_heartbeat_at DESC LIMIT 1",
            team,
        )
        return found
    finally:
        await conn.close()


async def test_a_team_worker_joins_the_running_stack_and_runs_its_graph(
    mesh: Stack, search_env: dict[str, str], tmp_path: Path
) -> None:
    config = graphs_config(tmp_path, "searcher", "sneaky")
    mesh.start_worker(config, env={**search_env, "AGENTLIST_WORKER_ID": "team-w1"})
    client = get_client(url=mesh.api_url)
    await eventually(lambda: _serves(mesh, "team-w1"), within=60, what="the team's worker")
    said: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}]}
    run = await client.runs.wait(None, "searcher", input=said)
    assert isinstance(run, dict) and run["messages"][-1]["content"] == "echo: hi"
    conn = await asyncpg.connect(mesh.database_url)
    try:
        row = await conn.fetchrow("SELECT team, graphs FROM workers WHERE worker_id = 'team-w1'")
    finally:
        await conn.close()
    # The only worker serving "searcher" ran it; "sneaky" was refused to the team.
    assert row is not None and (row["team"], row["graphs"]) == ("search", ["searcher"])


async def _serves(mesh: Stack, worker_id: str) -> bool:
    conn = await asyncpg.connect(mesh.database_url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT state = 'healthy' FROM workers WHERE worker_id = $1", worker_id
            )
        )
    finally:
        await conn.close()


async def test_rotating_a_teams_password_locks_the_old_one_out(mesh: Stack) -> None:
    add_team(mesh.data_dir, "rotated", ["x"])
    old = env_file_of(mesh, "rotated")["NATS_URL"]
    await (await nats.connect(old, allow_reconnect=False)).close()
    add_team(mesh.data_dir, "rotated", ["x"], rotate=True)
    new = env_file_of(mesh, "rotated")["NATS_URL"]
    assert new != old

    async def old_refused() -> bool:
        try:
            client = await nats.connect(old, allow_reconnect=False, connect_timeout=1)
        except (nats.errors.Error, OSError):
            return True
        await client.close()
        return False

    await eventually(old_refused, within=10, what="the old password refused")
    await (await nats.connect(new, allow_reconnect=False)).close()
