"""The one way a process waits out an outage.

:func:`retry` repeats one call and :func:`supervise` keeps a loop alive. Both retry only the
errors their caller names as transient (a server down, or the way to it); anything else is a
bug or a broken deployment, so it propagates and :func:`agentlist.core.lifecycle.run_service`
ends the process with a clear message instead of logging the same failure for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

Transient = tuple[type[BaseException], ...]
"""The exception types that mean "a server is away", which each caller composes from the
libraries it uses (``agentlist.core.nats.TRANSIENT``, ``agentlist.db.pool.TRANSIENT``...)."""

logger = logging.getLogger(__name__)


class Backoff:
    """Exponential delays from ``first`` to ``most`` seconds, each jittered down by up to a
    half so that processes which lost the same server do not come back in lockstep."""

    def __init__(self, first: float = 0.1, most: float = 5.0) -> None:
        self._first = first
        self._most = most
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._most)
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)

    def reset(self) -> None:
        self._next = self._first


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), max(seconds, 0))


async def retry(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    stop: asyncio.Event,
    *,
    transient: Transient,
    most: float,
) -> T | None:
    """Call ``attempt`` until it returns, retrying ``transient`` errors with backoff; None if
    ``stop`` is set first."""
    backoff = Backoff(most=most)
    while not stop.is_set():
        try:
            return await attempt()
        except transient as exc:
            delay = backoff.next()
            logger.warning("%s: %s (%s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await sleep_unless(stop, delay)
    return None


async def supervise(
    what: str,
    step: Callable[[], Awaitable[float]],
    stop: asyncio.Event,
    *,
    transient: Transient,
    most: float,
) -> None:
    """Run ``step`` until ``stop``: each call returns how long to rest before the next one, and
    a transient failure is retried with backoff."""
    backoff = Backoff(most=most)
    while not stop.is_set():
        try:
            rest = await step()
        except transient as exc:
            delay = backoff.next()
            logger.warning("%s: %s (%s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await sleep_unless(stop, delay)
            continue
        backoff.reset()
        if rest > 0:
            await sleep_unless(stop, rest)


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
