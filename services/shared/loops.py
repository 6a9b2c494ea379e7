"""Keeping a loop alive through outages: backoff, interruptible sleeps, wake-ups."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)


class Backoff:
    """Exponential delays between retries, from ``first`` to ``most`` seconds."""

    def __init__(self, first: float = 0.1, most: float = 5.0) -> None:
        self._first = first
        self._most = most
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._most)
        return delay

    def reset(self) -> None:
        self._next = self._first


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(seconds, 0))


async def until_done(
    what: str, attempt: Callable[[], Awaitable[T]], stop: asyncio.Event, most: float
) -> T | None:
    """Call ``attempt`` until it succeeds (a server that is not up yet is normal at start-up);
    None if ``stop`` was set first."""
    backoff = Backoff(most=most)
    while not stop.is_set():
        try:
            return await attempt()
        except Exception as exc:
            delay = backoff.next()
            logger.warning("%s not ready (%r); retrying in %.1fs", what, exc, delay)
            await sleep_unless(stop, delay)
    return None


class Waker:
    """A wake-up that is never lost: one arriving while the loop works makes its next wait
    return at once."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return when woken, or after ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(seconds, 0))
        self._event.clear()
