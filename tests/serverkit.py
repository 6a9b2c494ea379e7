"""Servers of a test module's own, apart from the session's (``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from agentlist.launcher import Stack, StackOptions


@contextlib.contextmanager
def own_servers() -> Iterator[Stack]:
    """NATS, Postgres and Redis started for the caller alone, stopped on exit."""
    stack = Stack(StackOptions())
    try:
        stack.start_servers()
        yield stack
    finally:
        stack.stop()
