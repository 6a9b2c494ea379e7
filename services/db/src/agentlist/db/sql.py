"""Building SQL: WHERE clauses whose values are always bind parameters, and the status groups
of the contracts spelled once as SQL lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import asyncpg

from agentlist.contracts.storage import ACTIVE_RUN_STATUSES


class Executor(Protocol):
    """Anything that runs a query: a pool, a connection (inside a transaction), or the API's
    reads as one tenant (``agentlist.api.db.tenancy``)."""

    async def execute(self, query: str, *args: object) -> str: ...

    async def executemany(self, command: str, args: Iterable[Sequence[object]]) -> None: ...

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: object, column: int = ...) -> Any: ...


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


def constant_list(values: Iterable[str]) -> str:
    """``('a', 'b')``: constants of the code as an SQL list, for ``IN``. Never for input, which
    is always a bind parameter."""
    items = list(values)
    if not items or any(not value.isidentifier() for value in items):
        raise ValueError(f"not a list of SQL-safe constants: {items!r}")
    return "(" + ", ".join(f"'{value}'" for value in items) + ")"


ACTIVE_RUNS: Final = constant_list(ACTIVE_RUN_STATUSES)
"""``status IN {ACTIVE_RUNS}``: a literal, not a bind parameter, so that the planner can prove the
predicate of the partial index ``runs_thread_active`` under a generic plan too."""
