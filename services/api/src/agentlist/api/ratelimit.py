"""Per-tenant token buckets on run creation (``aiolimiter``), so one tenant's burst cannot
crowd the queue: over its rate a tenant gets 429 with ``Retry-After``, others are unaffected.

Buckets live in each API instance; behind N instances a tenant's rate is N times the setting.
"""

from __future__ import annotations

import math
from collections import OrderedDict

from aiolimiter import AsyncLimiter

from agentlist.api.errors import ApiError

_MOST_TENANTS = 10_000
"""Buckets kept (least recently used dropped): idle tenants cost nothing."""


class RateLimitedError(ApiError):
    status_code = 429


class TenantLimits:
    def __init__(self, runs_per_second: float, burst: int) -> None:
        self._rate = runs_per_second
        self._burst = max(1, burst)
        self._buckets: OrderedDict[str, AsyncLimiter] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def _bucket(self, tenant: str) -> AsyncLimiter:
        bucket = self._buckets.pop(tenant, None)
        if bucket is None:
            bucket = AsyncLimiter(self._burst, self._burst / self._rate)
        self._buckets[tenant] = bucket
        if len(self._buckets) > _MOST_TENANTS:
            self._buckets.popitem(last=False)
        return bucket

    async def admit(self, tenant: str, amount: int = 1) -> None:
        """Take ``amount`` tokens for ``tenant`` or refuse at once with 429."""
        if not self.enabled:
            return
        bucket = self._bucket(tenant)
        if not bucket.has_capacity(amount):
            retry_after = max(1, math.ceil(amount / self._rate))
            raise RateLimitedError(
                f"Tenant {tenant} is over its rate of {self._rate:g} runs per second",
                headers={"Retry-After": str(retry_after)},
            )
        await bucket.acquire(amount)
