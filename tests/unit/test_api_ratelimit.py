"""A tenant's open SSE streams at one API instance: counted while open, refused over the cap,
released however the stream ends. (The run-creation buckets live in Redis: see
``tests/integration/test_tenant_buckets.py``.)"""

from __future__ import annotations

import contextlib

import pytest
from redis.asyncio import Redis

from agentlist.api.ratelimit import RateLimitedError, TenantLimits


def limits(sse_streams: int) -> TenantLimits:
    # The client is never used by streams: it connects on its first command only.
    return TenantLimits(Redis(), runs_per_second=0, burst=1, sse_streams=sse_streams)


def test_streams_over_the_cap_are_refused_until_one_closes() -> None:
    capped = limits(sse_streams=2)
    with capped.stream_slot("a") as first, capped.stream_slot("a") as second:
        with pytest.raises(RateLimitedError) as refused, capped.stream_slot("a"):
            pass
        assert refused.value.status_code == 429
        assert refused.value.detail == (
            "Tenant a has as many streams open at this server as it may (2); close one first"
        )
        with capped.stream_slot("b") as other:  # another tenant is not counted with "a"
            other()
        first()
        first()  # a second release of one stream changes nothing
        assert capped.open_streams("a") == 1
        with capped.stream_slot("a") as third:
            third()
        second()
    assert capped.open_streams("a") == 0


def test_a_slot_whose_response_was_never_made_is_released() -> None:
    capped = limits(sse_streams=1)
    with pytest.raises(LookupError), capped.stream_slot("a"):
        raise LookupError("the run could not be created")
    assert capped.open_streams("a") == 0


def test_no_cap_counts_but_never_refuses() -> None:
    uncapped = limits(sse_streams=0)
    with contextlib.ExitStack() as slots:
        releases = [slots.enter_context(uncapped.stream_slot("a")) for _ in range(1000)]
        assert uncapped.open_streams("a") == 1000
        for release in releases:
            release()
    assert uncapped.open_streams("a") == 0
