"""A server that went away mid-request is a 503 the client may retry, not a 500."""

from __future__ import annotations

import asyncpg

from agentlist.api.errors import lost_dependency


def _raised_while_handling(first: BaseException, second: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise second  # noqa: B904 - the implicit context is the point
    except BaseException as exc:
        return exc


def test_a_transaction_on_a_dead_connection_is_a_lost_dependency() -> None:
    exc = _raised_while_handling(
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError(
            "cannot call Transaction.__aexit__(): the underlying connection is closed"
        ),
    )
    assert lost_dependency(exc)


def test_other_interface_errors_are_bugs() -> None:
    assert not lost_dependency(
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
    )
    assert not lost_dependency(_raised_while_handling(ValueError("x"), asyncpg.InterfaceError("y")))


def test_a_connection_stuck_by_a_vanished_server_is_a_lost_dependency() -> None:
    stuck = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    assert lost_dependency(stuck)
