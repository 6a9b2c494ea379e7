"""An authorization filter applied in SQL keeps exactly the rows it matches in Python."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from agentlist.api.auth.filters import matches, parse, to_sql
from agentlist.db.sql import Where

ROWS: list[dict[str, Any]] = [
    {"owner": "alice", "team": ["red", "blue"], "level": 3},
    {"owner": "bob", "team": ["red"], "level": 1},
    {"owner": "carol", "team": "red", "level": 3.0},
    {"owner": {"name": "alice"}},
    {"level": None},
    {},
]
FILTERS: list[dict[str, Any]] = [
    {"owner": "alice"},
    {"owner": {"$eq": "bob"}},
    {"team": {"$contains": "red"}},
    {"team": {"$contains": ["red", "blue"]}},
    {"level": 3},
    {"level": None},
    {"$or": [{"owner": "bob"}, {"level": 3}]},
    {"$and": [{"team": {"$contains": "red"}}, {"$or": [{"level": 1}, {"owner": "alice"}]}]},
    {"owner'; DROP TABLE x; --": "alice"},
]


@pytest.mark.parametrize("raw", FILTERS, ids=[str(f) for f in FILTERS])
async def test_sql_and_python_agree(pg_pool: asyncpg.Pool, raw: dict[str, Any]) -> None:
    condition = parse(raw)
    where = Where()
    sql = to_sql(condition, where, "metadata")
    placeholder = where.param(ROWS)
    found = await pg_pool.fetch(
        f"SELECT ordinality - 1 AS i FROM jsonb_array_elements({placeholder}::jsonb)"
        f" WITH ORDINALITY AS r(metadata, ordinality) WHERE {sql}",
        *where.args,
    )
    expected = [i for i, row in enumerate(ROWS) if matches(condition, row)]
    assert sorted(r["i"] for r in found) == expected
