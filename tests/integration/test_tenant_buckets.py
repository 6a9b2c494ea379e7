"""Per-tenant token buckets (``token_bucket.lua``) against a real Redis: a burst then the rate,
one bucket for every API instance, Redis's clock, expiry of idle buckets, and no admission
while Redis is unreachable."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from serverkit import own_servers
from waitkit import eventually

from agentlist.api.ratelimit import RateLimitedError, TenantLimits
from agentlist.contracts.streams import tenant_run_bucket_key
from agentlist.launcher import Stack


@pytest_asyncio.fixture
async def redis(servers: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def tenant() -> str:
    """A tenant of the test's own: buckets outlive a test in the session's Redis."""
    return f"t-{uuid.uuid4().hex[:12]}"


async def refusal(limits: TenantLimits, tenant: str) -> RateLimitedError:
    with pytest.raises(RateLimitedError) as refused:
        await limits.admit(tenant)
    return refused.value


async def admitted(limits: TenantLimits, tenant: str) -> bool:
    try:
        await limits.admit(tenant)
    except RateLimitedError:
        return False
    return True


async def test_a_burst_then_429_with_retry_after_and_other_tenants_unaffected(
    redis: Redis, tenant: str
) -> None:
    limits = TenantLimits(redis, runs_per_second=0.5, burst=3)
    for _ in range(3):
        await limits.admit(tenant)
    refused = await refusal(limits, tenant)
    assert refused.status_code == 429
    # One token at 0.5 per second: two seconds away, in whole seconds.
    assert refused.headers == {"Retry-After": "2"}
    assert "0.5 runs per second" in refused.detail
    await limits.admit(f"{tenant}-other")


async def test_instances_share_one_bucket(servers: Stack, tenant: str) -> None:
    """Two API instances (each its own client) spend one burst between them, not two."""
    first, second = Redis.from_url(servers.redis_url), Redis.from_url(servers.redis_url)
    try:
        a = TenantLimits(first, runs_per_second=0.1, burst=4)
        b = TenantLimits(second, runs_per_second=0.1, burst=4)
        for limits in (a, b, a, b):
            await limits.admit(tenant)
        assert (await refusal(a, tenant)).headers == {"Retry-After": "10"}
        assert (await refusal(b, tenant)).headers == {"Retry-After": "10"}
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_bucket_refills_at_the_rate(redis: Redis, tenant: str) -> None:
    limits = TenantLimits(redis, runs_per_second=20, burst=2)
    await limits.admit(tenant)
    await limits.admit(tenant)
    assert (await refusal(limits, tenant)).headers == {"Retry-After": "1"}
    await eventually(lambda: admitted(limits, tenant), within=2, what="a refilled token")


async def test_a_bucket_expires_once_it_would_be_full_again(redis: Redis, tenant: str) -> None:
    limits = TenantLimits(redis, runs_per_second=10, burst=5)
    key = tenant_run_bucket_key(tenant)
    await limits.admit(tenant)
    # One token short: full again in 100 ms, and the key lives no longer than that.
    assert 0 < await redis.pttl(key) <= 100
    await eventually(lambda: redis.exists(key), lambda found: found == 0, within=2)
    for _ in range(5):  # a missing bucket is a full one
        await limits.admit(tenant)


async def test_the_clock_is_redis_s(redis: Redis, tenant: str) -> None:
    """What the script stores is in Redis's time: a caller's clock plays no part."""
    limits = TenantLimits(redis, runs_per_second=0.01, burst=2)
    await limits.admit(tenant)
    seconds, micros = await redis.time()
    tokens, at = await redis.hmget(tenant_run_bucket_key(tenant), ["tokens", "at"])
    assert tokens is not None and at is not None
    assert float(tokens) == pytest.approx(1.0, abs=0.001)
    assert 0 <= seconds * 1_000_000 + micros - int(at) < 5_000_000


async def test_an_unreachable_redis_admits_nobody(tenant: str) -> None:
    """A connection error reaches the caller (the API answers 503), never an admission."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = Redis.from_url(f"redis://127.0.0.1:{port}", socket_connect_timeout=1)
    try:
        limits = TenantLimits(unreachable, runs_per_second=100, burst=100)
        with pytest.raises(RedisConnectionError):
            await limits.admit(tenant)
        no_rate = TenantLimits(unreachable, runs_per_second=0, burst=1)
        await no_rate.admit(tenant)  # no rate: Redis is not asked
    finally:
        await unreachable.aclose()


async def evalsha_calls(redis: Redis) -> int:
    stats = await redis.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_a_flood_at_one_instance_is_refused_there_without_asking_redis(
    tenant: str,
) -> None:
    # A Redis of its own: the session's serves other scripts (the bridge's) meanwhile.
    with own_servers() as alone:
        redis = Redis.from_url(alone.redis_url)
        try:
            limits = TenantLimits(redis, runs_per_second=0.5, burst=3)
            for _ in range(3):
                await limits.admit(tenant)
            before = await evalsha_calls(redis)
            for _ in range(50):
                await refusal(limits, tenant)
            assert await evalsha_calls(redis) - before == 0
            # Another instance has a local bucket of its own: Redis, shared, still refuses it.
            other_instance = TenantLimits(redis, runs_per_second=0.5, burst=3)
            assert (await refusal(other_instance, tenant)).status_code == 429
            assert await evalsha_calls(redis) - before == 1
        finally:
            await redis.aclose()
