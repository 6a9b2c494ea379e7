"""Per-tenant limits through the official SDK, on API instances that share one Redis and one
Postgres: run creations per second (one quota for every instance), runs in flight, open SSE
streams; and the server's bounds on ``recursion_limit`` and batches.

Each test is a tenant of its own (named through the gateway), so that buckets and counts of
one test never meet another's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import RateLimitError, UnprocessableEntityError
from serverkit import FAST_TIMINGS, GATEWAY_ENV, services_on, tenant_headers
from waitkit import eventually

from agentlist.launcher import Stack

RATE = {
    "AGENTLIST_API_RUNS_PER_SECOND_PER_TENANT": "0.05",
    "AGENTLIST_API_RUN_BURST_PER_TENANT": "4",
}
"""A burst of 4, then one run every 20 s: nothing refills within a test."""
CAPS = {
    "AGENTLIST_API_RUNS_PER_SECOND_PER_TENANT": "0",
    "AGENTLIST_API_RUNS_IN_FLIGHT_PER_TENANT": "2",
    "AGENTLIST_API_SSE_STREAMS_PER_TENANT": "1",
    "AGENTLIST_API_MAX_BATCH_RUNS": "2",
}
HELLO = {"messages": [{"role": "human", "content": "hi"}]}
SLOW = {"delay": 0.2, "total": 500}
"""A run that outlasts any test unless cancelled, with an event every 0.2 s."""


@dataclass(frozen=True)
class Instances:
    rated: tuple[str, str]
    """Two API instances with the same rate limit."""
    capped: str
    """An API instance with caps on runs in flight, streams and batches, and no rate."""


@pytest.fixture(scope="module")
def instances(
    tmp_path_factory: pytest.TempPathFactory, servers: Stack, log_dir: Path
) -> Iterator[Instances]:
    env = {**FAST_TIMINGS, **GATEWAY_ENV, **RATE}
    data = tmp_path_factory.mktemp("limits-stack")
    with services_on(servers, data, log_dir / "limits-stack", env=env) as stack:
        second = stack.start_api()
        capped = stack.start_api(env=CAPS)
        yield Instances(rated=(stack.api_url, second), capped=capped)


def new_tenant() -> str:
    return f"limits-{uuid.uuid4().hex[:10]}"


def client(url: str, tenant: str) -> Any:
    return get_client(url=url, headers=tenant_headers(tenant))


async def test_instances_share_one_quota_per_tenant(instances: Instances) -> None:
    tenant = new_tenant()
    first, second = (client(url, tenant) for url in instances.rated)
    for sdk in (first, second, first, second):
        await sdk.runs.create(None, "agent", input=HELLO)

    for sdk in (first, second):
        with pytest.raises(RateLimitError) as refused:
            await sdk.runs.create(None, "agent", input=HELLO)
        response = refused.value.response
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert "0.05 runs per second" in response.json()["detail"]

    other = client(instances.rated[1], new_tenant())
    await other.runs.create(None, "agent", input=HELLO)


async def test_runs_in_flight_over_the_cap_are_refused(instances: Instances) -> None:
    tenant = new_tenant()
    sdk = client(instances.capped, tenant)
    threads = [(await sdk.threads.create())["thread_id"] for _ in range(3)]
    runs = [await sdk.runs.create(thread, "slow", input=SLOW) for thread in threads[:2]]
    try:
        with pytest.raises(RateLimitError) as refused:
            await sdk.runs.create(threads[2], "slow", input=SLOW)
        assert refused.value.response.json() == {
            "detail": f"Tenant {tenant} has as many runs pending or running as it may (2);"
            " wait for some to finish, or cancel some"
        }
        assert await sdk.runs.list(threads[2]) == []

        ended = runs.pop(0)
        await sdk.runs.cancel(ended["thread_id"], ended["run_id"], wait=True)
        runs.append(await sdk.runs.create(threads[2], "slow", input=SLOW))
    finally:
        for run in runs:
            await sdk.runs.cancel(run["thread_id"], run["run_id"])


async def stream_opens(sdk: Any, thread_id: str, run_id: str) -> bool:
    stream = sdk.runs.join_stream(thread_id, run_id)
    try:
        await anext(stream)
        return True
    except RateLimitError:
        return False
    finally:
        await stream.aclose()


async def test_streams_over_the_cap_are_refused_until_one_closes(instances: Instances) -> None:
    sdk = client(instances.capped, new_tenant())
    thread_id = (await sdk.threads.create())["thread_id"]
    run_id = (await sdk.runs.create(thread_id, "slow", input=SLOW))["run_id"]
    try:
        first = sdk.runs.join_stream(thread_id, run_id)
        await anext(first)
        with pytest.raises(RateLimitError) as refused:
            await anext(sdk.runs.join_stream(thread_id, run_id))
        assert (
            "as many streams open at this server as it may (1)"
            in (refused.value.response.json()["detail"])
        )
        # A run streamed as it is created is refused before it is created.
        with pytest.raises(RateLimitError):
            await anext(sdk.runs.stream(thread_id, "slow", input=SLOW))
        assert len(await sdk.runs.list(thread_id)) == 1

        await first.aclose()
        await eventually(
            lambda: stream_opens(sdk, thread_id, run_id),
            within=15,
            what="a stream after one closed",
        )
    finally:
        await sdk.runs.cancel(thread_id, run_id)


async def test_recursion_limit_above_the_server_s_bound_is_422(instances: Instances) -> None:
    sdk = client(instances.capped, new_tenant())
    for too_much in (1001, 0):
        with pytest.raises(UnprocessableEntityError) as refused:
            await sdk.runs.create(None, "agent", input=HELLO, config={"recursion_limit": too_much})
        assert "recursion_limit" in refused.value.response.json()["detail"]
    result = await sdk.runs.wait(None, "agent", input=HELLO, config={"recursion_limit": 1000})
    assert result["messages"][-1]["content"] == "echo: hi"


async def test_a_batch_longer_than_the_server_s_bound_is_422(instances: Instances) -> None:
    sdk = client(instances.capped, new_tenant())
    payloads = [{"assistant_id": "agent", "input": HELLO} for _ in range(3)]
    with pytest.raises(UnprocessableEntityError) as refused:
        await sdk.runs.create_batch(payloads)
    assert refused.value.response.json() == {"detail": "A batch may hold at most 2 runs; got 3"}
    assert len(await sdk.runs.create_batch(payloads[:2])) == 2
