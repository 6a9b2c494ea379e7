"""Per-tenant token buckets: a tenant over its rate gets 429, other tenants do not notice."""

from __future__ import annotations

import asyncio

import pytest

from agentlist.api.ratelimit import RateLimitedError, TenantLimits


async def test_a_burst_then_the_rate() -> None:
    limits = TenantLimits(runs_per_second=20, burst=5)
    for _ in range(5):
        await limits.admit("a")
    with pytest.raises(RateLimitedError) as refused:
        await limits.admit("a")
    assert refused.value.status_code == 429 and refused.value.headers == {"Retry-After": "1"}
    await limits.admit("b")  # another tenant has its own bucket
    await asyncio.sleep(0.2)  # 20/s refills a few tokens
    await limits.admit("a")


async def test_no_rate_means_no_limit() -> None:
    limits = TenantLimits(runs_per_second=0, burst=1)
    for _ in range(1000):
        await limits.admit("a")
