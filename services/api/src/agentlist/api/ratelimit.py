"""Per-tenant limits, so that one tenant cannot crowd out the others; over a limit a tenant
gets 429 and other tenants are unaffected.

* **Run creations per second**: a token bucket per tenant, kept in Redis
  (:func:`~agentlist.contracts.streams.tenant_run_bucket_key`, ``token_bucket.lua``) and so
  shared by every API instance: N instances give a tenant one quota, not N. Refused with
  ``Retry-After``. Redis unreachable: 503, like every request that needs it (never admitted
  unchecked). In front of it, each instance keeps an ``aiolimiter`` bucket per tenant with the
  same rate, filled only by what Redis admitted here: it can only refuse what Redis would
  refuse too (this instance alone used the whole quota), and it does so without a round trip,
  so a flooding tenant costs Redis nothing.
* **Runs in flight** (pending or running): the number is checked by the statement that queues
  a run (:data:`agentlist.api.db.runs.QUEUE`), over all instances. It caps the runs clients
  create; the runs of crons are the scheduler's and not refused.
* **Open SSE streams**: counted in this API instance's memory, so behind N instances a tenant
  may hold N times the setting. Each stream holds a Redis connection of its instance's pool
  while it waits for events; the cap keeps one tenant from taking a whole pool.

Every limit is off at 0.
"""

from __future__ import annotations

import contextlib
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Final

from aiolimiter import AsyncLimiter
from redis.asyncio import Redis

from agentlist.api.errors import ApiError
from agentlist.api.settings import ApiSettings
from agentlist.contracts.streams import tenant_run_bucket_key

SCRIPT: Final = "token_bucket.lua"
_MOST_LOCAL_BUCKETS: Final = 10_000
"""Local buckets kept (least recently used dropped): idle tenants cost nothing."""


class RateLimitedError(ApiError):
    status_code = 429


def load_script() -> str:
    return resources.files("agentlist.api").joinpath(SCRIPT).read_text()


class TenantLimits:
    def __init__(
        self,
        redis: Redis,
        *,
        runs_per_second: float,
        burst: int,
        runs_in_flight: int = 0,
        sse_streams: int = 0,
    ) -> None:
        self.runs_per_second = runs_per_second
        self.burst = max(1, burst)
        self.runs_in_flight = runs_in_flight
        self.sse_streams = sse_streams
        self._take = redis.register_script(load_script())
        self._open_streams: dict[str, int] = {}
        self._local: OrderedDict[str, AsyncLimiter] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: ApiSettings, redis: Redis) -> TenantLimits:
        return cls(
            redis,
            runs_per_second=settings.runs_per_second_per_tenant,
            burst=settings.run_burst_per_tenant,
            runs_in_flight=settings.runs_in_flight_per_tenant,
            sse_streams=settings.sse_streams_per_tenant,
        )

    async def admit(self, tenant: str) -> None:
        """Take one run creation from ``tenant``'s bucket, or refuse at once with 429."""
        if self.runs_per_second <= 0:
            return
        local = self._local_bucket(tenant)
        if not local.has_capacity():
            raise self._over_rate(tenant, math.ceil(1 / self.runs_per_second))
        key = tenant_run_bucket_key(tenant)
        wait_ms = int(await self._take(keys=[key], args=[self.runs_per_second, self.burst, 1]))
        if wait_ms > 0:
            raise self._over_rate(tenant, math.ceil(wait_ms / 1000))
        await local.acquire()  # it has capacity: at once

    def _local_bucket(self, tenant: str) -> AsyncLimiter:
        bucket = self._local.pop(tenant, None)
        if bucket is None:
            bucket = AsyncLimiter(self.burst, self.burst / self.runs_per_second)
        self._local[tenant] = bucket
        if len(self._local) > _MOST_LOCAL_BUCKETS:
            self._local.popitem(last=False)
        return bucket

    def _over_rate(self, tenant: str, retry_after: int) -> RateLimitedError:
        return RateLimitedError(
            f"Tenant {tenant} is over its rate of {self.runs_per_second:g} runs per second"
            f" (bursts of {self.burst}); retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )

    def in_flight_refusal(self, tenant: str) -> RateLimitedError:
        return RateLimitedError(
            f"Tenant {tenant} has as many runs pending or running as it may"
            f" ({self.runs_in_flight}); wait for some to finish, or cancel some"
        )

    def open_streams(self, tenant: str) -> int:
        """SSE streams ``tenant`` holds open at this instance."""
        return self._open_streams.get(tenant, 0)

    @contextlib.contextmanager
    def stream_slot(self, tenant: str) -> Iterator[Callable[[], None]]:
        """Count one more open SSE stream of ``tenant``, or refuse with 429. Yields the release,
        for the stream's response to call when it ends; an exception leaving the block (the
        response was never made) releases the slot."""
        if self.sse_streams and self.open_streams(tenant) >= self.sse_streams:
            raise RateLimitedError(
                f"Tenant {tenant} has as many streams open at this server as it may"
                f" ({self.sse_streams}); close one first"
            )
        self._open_streams[tenant] = self.open_streams(tenant) + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._open_streams[tenant] - 1
            if left:
                self._open_streams[tenant] = left
            else:
                del self._open_streams[tenant]

        try:
            yield release
        except BaseException:
            release()
            raise
