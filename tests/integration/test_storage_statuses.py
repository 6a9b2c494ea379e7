"""The status types of ``contracts.storage`` are what the tables' CHECK constraints allow, read
from a migrated database: a status added to one and not the other fails here."""

from __future__ import annotations

import re
from typing import Any, get_args

import asyncpg
import pytest

from agentlist.contracts.storage import RunStatus, ThreadStatus

# The definition of each CHECK constraint on the column, as Postgres prints it back.
CHECKS_ON_COLUMN = """
SELECT pg_get_constraintdef(c.oid)
  FROM pg_constraint c
  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
 WHERE c.contype = 'c' AND c.conrelid = $1::regclass AND a.attname = $2
"""


STATUS_TYPES: dict[str, Any] = {"runs": RunStatus, "threads": ThreadStatus}


@pytest.mark.parametrize("table", STATUS_TYPES)
async def test_the_status_type_is_what_the_check_constraint_allows(
    pg_pool: asyncpg.Pool, table: str
) -> None:
    (definition,) = [row[0] for row in await pg_pool.fetch(CHECKS_ON_COLUMN, table, "status")]
    # CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, ...])))
    allowed = re.findall(r"'([^']*)'::text", definition)
    assert allowed, definition
    assert set(allowed) == set(get_args(STATUS_TYPES[table]))
