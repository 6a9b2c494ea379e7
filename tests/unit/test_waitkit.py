"""The test kit's one polling loop, ``waitkit.eventually``."""

from __future__ import annotations

import itertools
import time

import pytest
from waitkit import eventually


async def test_returns_the_first_value_accepted() -> None:
    counter = itertools.count()
    assert await eventually(lambda: next(counter), lambda n: n >= 3, within=5, every=0) == 3


async def test_awaits_a_coroutine_check_and_accepts_a_truthy_value_by_default() -> None:
    answers = iter([[], [], ["found"]])

    async def check() -> list[str]:
        return next(answers)

    assert await eventually(check, within=5, every=0) == ["found"]


async def test_fails_after_within_seconds_with_what_the_last_value_and_the_context() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        await eventually(
            lambda: "still pending",
            lambda value: value == "done",
            within=0.2,
            what="the job done",
            context=lambda: "the job's log",
        )
    assert time.monotonic() - started >= 0.2
    assert str(failure.value) == (
        "the job done: not within 0.2s (last: 'still pending')\nthe job's log"
    )


async def test_an_exception_from_the_check_ends_the_wait_at_once() -> None:
    calls = itertools.count(1)

    def check() -> bool:
        raise ValueError(f"call {next(calls)}")

    with pytest.raises(ValueError, match="call 1"):
        await eventually(check, within=5)
