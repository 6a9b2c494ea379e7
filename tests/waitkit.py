"""Waiting in tests: the one polling loop every test that waits for a condition uses."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")


@overload
async def eventually(
    check: Callable[[], Awaitable[T]],
    ok: Callable[[T], object] = ...,
    *,
    within: float,
    every: float = ...,
    what: str = ...,
    context: Callable[[], str] | None = ...,
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T],
    ok: Callable[[T], object] = ...,
    *,
    within: float,
    every: float = ...,
    what: str = ...,
    context: Callable[[], str] | None = ...,
) -> T: ...


async def eventually(
    check: Callable[[], Any],
    ok: Callable[[Any], object] = bool,
    *,
    within: float,
    every: float = 0.05,
    what: str = "the condition",
    context: Callable[[], str] | None = None,
) -> Any:
    """The first value of ``check()`` (a function or a coroutine function) that ``ok``
    accepts (by default: the first truthy one), calling it again every ``every`` seconds.

    After ``within`` seconds, raises AssertionError naming ``what`` and the last value seen,
    followed by ``context()`` if given (a log, say). An exception from ``check`` ends the
    wait at once: a check raises to say that waiting longer is pointless.
    """
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if ok(value):
            return value
        if time.monotonic() >= deadline:
            details = f"\n{context()}" if context is not None else ""
            raise AssertionError(f"{what}: not within {within:g}s (last: {value!r}){details}")
        await asyncio.sleep(every)


async def run_reaches(
    sdk: Any, thread_id: str, run_id: str, *statuses: str, within: float = 30
) -> dict[str, Any]:
    """The run, polled through the SDK until it has one of ``statuses``."""
    run: dict[str, Any] = await eventually(
        lambda: sdk.runs.get(thread_id, run_id),
        lambda run: run["status"] in statuses,
        within=within,
        what=f"run {run_id} in {statuses}",
    )
    return run
