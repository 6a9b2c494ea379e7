"""The SSE wire format and stream-resume rules, as langgraph-api clients expect them."""

from __future__ import annotations

import uuid

import pytest

from agentlist.api.enqueue import parse_assistant_ref
from agentlist.api.errors import UnprocessableError
from agentlist.api.eventlog import FROM_START, resume_point
from agentlist.api.params import pagination_headers
from agentlist.api.runstream import wait_body
from agentlist.api.sse import frame, mode_matches
from agentlist.contracts import ErrorInfo
from agentlist.contracts.streams import StreamEnd


def test_frames_are_event_data_and_optional_id() -> None:
    assert frame("values", b'{"a":1}') == b'event: values\r\ndata: {"a":1}\r\n\r\n'
    assert frame("values", b"{}", "17-0") == b"event: values\r\ndata: {}\r\nid: 17-0\r\n\r\n"


def test_frames_cannot_be_split_by_newlines_in_names() -> None:
    assert frame("a\r\nid: forged", b"1", "1-0\nevent: x").count(b"\r\n") == 4


@pytest.mark.parametrize(
    ("event", "modes", "expected"),
    [
        ("values", {"values"}, True),
        ("updates", {"values"}, False),
        ("values|child:1", {"values"}, True),
        ("messages/partial", {"messages-tuple"}, True),
        ("messages", {"messages"}, True),
        ("metadata", {"updates"}, True),
        ("error", {"updates"}, True),
        ("custom", {"values", "updates"}, False),
    ],
)
def test_join_filter(event: str, modes: set[str], expected: bool) -> None:
    assert mode_matches(event, modes) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("-1", FROM_START),
        ("0", FROM_START),
        ("-", FROM_START),
        ("1700000000000-3", "1700000000000-3"),
        ("12", "12"),
        ("abc", None),
        ("1-2-3", None),
        ("1\r\nevent: x", None),
    ],
)
def test_last_event_id(header: str | None, expected: str | None) -> None:
    assert resume_point(header) == expected


def test_pagination_headers() -> None:
    assert pagination_headers(total=3, offset=0, returned=1) == {
        "X-Pagination-Total": "3",
        "X-Pagination-Next": "1",
    }
    assert pagination_headers(total=3, offset=2, returned=1) == {"X-Pagination-Total": "3"}


def test_graph_names_stand_for_their_system_assistant() -> None:
    namespace = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
    assert parse_assistant_ref("agent") == uuid.uuid5(namespace, "agent")
    assert parse_assistant_ref(str(uuid.UUID(int=5))) == uuid.UUID(int=5)
    with pytest.raises(UnprocessableError):
        parse_assistant_ref("not/a graph")


def test_wait_body_follows_langgraph_api() -> None:
    assert wait_body(StreamEnd(status="success", values={"a": 1}), None) == {"a": 1}
    interrupted = StreamEnd(
        status="success", values={"a": 1}, interrupts={"t": [{"value": "q", "id": "i"}]}
    )
    assert wait_body(interrupted, None) == {"a": 1, "__interrupt__": [{"value": "q", "id": "i"}]}
    failed = StreamEnd(status="error", error=ErrorInfo(error="ValueError", message="boom"))
    assert wait_body(failed, None) == {"__error__": {"error": "ValueError", "message": "boom"}}
    assert wait_body(None, {"from": "thread"}) == {"from": "thread"}
