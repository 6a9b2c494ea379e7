"""Waiting out a server that is down: which errors mean that, and the backoff between tries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import asyncpg
import nats.errors
import redis.exceptions

from agentlist.shared.loops import Backoff, sleep_unless

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
            await sleep_unless(stop, delay)
        else:
            backoff.reset()
            return result
    return None
