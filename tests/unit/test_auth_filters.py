"""The filters an ``@auth.on`` handler returns: what parses, what is refused, what matches."""

from __future__ import annotations

from typing import Any

import pytest

from agentlist.api.auth.filters import InvalidFilterError, matches, parse

OWNED: dict[str, Any] = {"owner": "alice", "team": ["red", "blue"], "level": 3}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"owner": "alice"}, True),
        ({"owner": "bob"}, False),
        ({"owner": {"$eq": "alice"}}, True),
        ({"team": {"$contains": "red"}}, True),
        ({"team": {"$contains": ["blue", "red"]}}, True),
        ({"team": {"$contains": ["red", "green"]}}, False),
        ({"owner": {"$contains": "alice"}}, False),  # not a list
        ({"owner": "alice", "level": 3}, True),
        ({"owner": "alice", "level": 4}, False),
        ({"$or": [{"owner": "bob"}, {"level": 3}]}, True),
        (
            {"$and": [{"owner": "alice"}, {"$or": [{"level": 1}, {"team": {"$contains": "red"}}]}]},
            True,
        ),
        ({"missing": "x"}, False),
        ({}, True),
    ],
)
def test_a_filter_matches_metadata_as_langgraph_documents(
    raw: dict[str, Any], expected: bool
) -> None:
    assert matches(parse(raw), OWNED) is expected


@pytest.mark.parametrize(
    "raw",
    [
        ["owner", "alice"],
        {"owner": {"$ne": "alice"}},
        {"owner": {"$eq": "a", "$contains": "b"}},
        {"$not": [{"owner": "a"}]},
        {"$or": []},
        {"$or": {"owner": "a"}},
        {"$or": [{"$and": [{"$or": [{"owner": "a"}]}]}]},  # nested three deep
    ],
)
def test_what_the_server_cannot_apply_is_refused(raw: object) -> None:
    with pytest.raises(InvalidFilterError):
        parse(raw)
