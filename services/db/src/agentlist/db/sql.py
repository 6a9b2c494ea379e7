"""Building WHERE clauses whose values are always bind parameters, never spliced text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Executor: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"
    " | asyncpg.Pool[asyncpg.Record]"
)
"""Anything that runs a query: a pool, or a connection (inside a transaction)."""


@dataclass
class Where:
    """Collects ``AND``-ed conditions; ``{}`` in a condition stands for its next parameter."""

    conditions: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)

    def add(self, condition: str, *values: Any) -> Where:
        placeholders = []
        for value in values:
            self.args.append(value)
            placeholders.append(f"${len(self.args)}")
        self.conditions.append(condition.format(*placeholders))
        return self

    def param(self, value: Any) -> str:
        """A placeholder for a value used outside the conditions (LIMIT, OFFSET...)."""
        self.args.append(value)
        return f"${len(self.args)}"

    @property
    def sql(self) -> str:
        return " AND ".join(self.conditions) if self.conditions else "TRUE"


def order_by(column: str | None, order: str | None, allowed: frozenset[str], default: str) -> str:
    """An ORDER BY over a known column only (identifiers cannot be bind parameters)."""
    chosen = column if column in allowed else default
    direction = "ASC" if (order or "desc").lower() == "asc" else "DESC"
    return f"{chosen} {direction}"
