"""Session fixtures: real servers and services, started by the project's own launcher.

* ``servers``: NATS (JetStream), Postgres and Redis only, for integration tests of one service.
* ``stack``: the whole mesh as ``agentlist dev`` runs it (api, registry, scheduler, bridge and a
  worker serving the test graphs), for end-to-end tests through the official ``langgraph-sdk``.
* ``auth_stack``: the same under a langgraph.json's custom auth.

Set ``NATS_URL``, ``DATABASE_URL`` or ``REDIS_URL`` to run against servers of your own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from serverkit import FAST_TIMINGS, migrated_pool, services_on
from waitkit import run_reaches

from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.jsworker import js_worker_problem


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def servers(log_dir: Path) -> Iterator[Stack]:
    # The launcher's own temp folder: pytest's is private to root, and Postgres runs as nobody.
    stack = Stack(StackOptions.from_environment(log_dir=log_dir, env=FAST_TIMINGS))
    try:
        stack.start_servers()
        yield stack
    finally:
        stack.stop()


@pytest_asyncio.fixture(scope="session")
async def pg_pool(servers: Stack) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(servers.database_url) as pool:
        yield pool


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, log_dir: Path
) -> Iterator[Stack]:
    """The whole mesh, shared by the end-to-end tests that do not break it."""
    with services_on(servers, tmp_path_factory.mktemp("stack"), log_dir / "stack") as running:
        yield running


AUTH_CONFIG = Path(__file__).resolve().parent / "graphs" / "auth_langgraph.json"


@pytest.fixture(scope="session")
def auth_stack(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, log_dir: Path
) -> Iterator[Stack]:
    """A mesh under custom auth (``tests/graphs/owner_auth.py``: bearer tokens, owner-only
    threads), with Python and JS graphs that report who called them."""
    assert js_worker_problem() is None, js_worker_problem()
    data = tmp_path_factory.mktemp("auth-stack")
    with services_on(servers, data, log_dir / "auth-stack", graphs_config=AUTH_CONFIG) as running:
        yield running


@pytest.fixture
def sdk(stack: Stack) -> Any:
    """The official Python SDK client on the shared stack. Typed ``Any`` on purpose: the SDK's
    TypedDict annotations are for applications; tests assert the values themselves."""
    return get_client(url=stack.api_url)


WaitStatus = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def wait_status(sdk: Any) -> WaitStatus:
    """``await wait_status(thread_id, run_id, "success", "error")``: poll the run (through the
    SDK) until it has one of the statuses; fail after ``within`` seconds."""

    async def wait(
        thread_id: str, run_id: str, *statuses: str, within: float = 30
    ) -> dict[str, Any]:
        return await run_reaches(sdk, thread_id, run_id, *statuses, within=within)

    return wait
