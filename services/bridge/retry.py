"""Waiting out a server that is down: which errors mean that, and the backoff between tries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, TypeVar

import asyncpg
import nats.errors
import redis.exceptions

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT: Final[tuple[type[BaseException], ...]] = (
    OSError,  # refused and reset connections, timeouts
    redis.exceptions.RedisError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # shutdown, starting up, statement timeout
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure
    nats.errors.Error,
)
"""Errors that say a server (or the way to it) failed, not the message being processed."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


@dataclass
class Backoff:
    """Doubling delays from ``initial`` up to ``maximum``; ``reset`` after a success."""

    initial: float = 0.1
    maximum: float = 5.0
    _next: float = 0.0

    def next(self) -> float:
        delay = self._next or self.initial
        self._next = min(delay * 2, self.maximum)
        return min(delay, self.maximum)

    def reset(self) -> None:
        self._next = 0.0


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but return as soon as ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def until_ok(
    stop: asyncio.Event, backoff: Backoff, what: str, attempt: Callable[[], Awaitable[T]]
) -> T | None:
    """Call ``attempt`` until it succeeds (returning its result) or ``stop`` is set (``None``).
    Only transient errors are retried; anything else is a bug and propagates."""
    while not stop.is_set():
        try:
            result = await attempt()
        except TRANSIENT as exc:
            delay = backoff.next()
            logger.warning(
                "cannot %s (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay
            )
            await pause(stop, delay)
        else:
            backoff.reset()
            return result
    return None
