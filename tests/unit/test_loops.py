from __future__ import annotations

import asyncio

import asyncpg
import pytest

from agentlist.core.retry import Backoff, retry, supervise
from agentlist.db import connections


def test_backoff_doubles_up_to_its_most_jittered_down_by_at_most_a_half() -> None:
    backoff = Backoff(first=0.1, most=0.5)
    delays = [backoff.next() for _ in range(5)]
    for delay, ceiling in zip(delays, [0.1, 0.2, 0.4, 0.5, 0.5], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next() <= 0.1


async def test_retry_repeats_transient_errors_until_the_call_returns() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionRefusedError("down")
        return "up"

    result = await retry("server", flaky, asyncio.Event(), transient=(OSError,), most=0.01)
    assert result == "up" and len(calls) == 3


async def test_retry_lets_any_other_error_through_at_once() -> None:
    calls: list[int] = []

    async def broken() -> None:
        calls.append(1)
        raise ValueError("a migration that cannot apply")

    with pytest.raises(ValueError, match="migration"):
        await retry("migrations", broken, asyncio.Event(), transient=(OSError,), most=0.01)
    assert len(calls) == 1


async def test_supervise_survives_outages_and_ends_on_stop_or_a_bug() -> None:
    stop = asyncio.Event()
    steps: list[int] = []

    async def step() -> float:
        steps.append(1)
        if len(steps) == 2:
            raise TimeoutError("postgres went away")
        if len(steps) == 4:
            stop.set()
        return 0.0

    await supervise("sweep", step, stop, transient=(OSError,), most=0.01)
    assert len(steps) == 4

    async def bug() -> float:
        raise KeyError("x")

    with pytest.raises(KeyError):
        await supervise("sweep", bug, asyncio.Event(), transient=(OSError,), most=0.01)


async def test_a_connection_left_stuck_by_a_killed_postgres_is_an_outage_not_a_bug() -> None:
    # What a control-plane loop meets when Postgres is killed under it: asyncpg's pool fails
    # to reset the connection it gets back (and replaces it). A scheduler that stopped on it
    # left every run created afterwards pending for ever.
    stop = asyncio.Event()
    steps: list[int] = []

    async def claim() -> float:
        steps.append(1)
        if len(steps) == 1:
            raise asyncpg.InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            )
        stop.set()
        return 0.0

    await supervise("claim", claim, stop, transient=connections.TRANSIENT, most=0.01)
    assert len(steps) == 2
