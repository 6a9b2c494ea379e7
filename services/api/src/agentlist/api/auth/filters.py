"""Authorization filters: what an ``@auth.on`` handler returns to narrow what a caller reaches.

A filter is a dict over a resource's ``metadata`` (langgraph_sdk's ``FilterType``); its keys are
AND-ed:

* ``{"k": v}`` or ``{"k": {"$eq": v}}``: ``metadata["k"]`` equals ``v``;
* ``{"k": {"$contains": v}}``: ``metadata["k"]`` is a list holding ``v``;
  ``{"k": {"$contains": [v, w]}}``: a list holding all of them, in any order;
* ``{"$and": [f, g]}``, ``{"$or": [f, g]}``: filters combined, nested at most twice.

A filter is parsed once, when the handler returns it, and then applied in SQL (``to_sql``, its
values always bind parameters) so that searches, counts and by-id reads all see the same rows.
What the handler returned and is not one of these is refused, never half-applied: a filter the
server does not understand must not widen what the caller sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from agentlist.db.sql import Where

MAX_NESTING: Final = 2
"""``$and``/``$or`` inside ``$and``/``$or`` at most this deep, as langgraph-api allows."""


class InvalidFilterError(ValueError):
    """A handler returned a filter this server cannot apply."""


@dataclass(frozen=True)
class Equals:
    key: str
    value: Any


@dataclass(frozen=True)
class Contains:
    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Filter, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Filter, ...]


Filter: TypeAlias = Equals | Contains | AllOf | AnyOf


def parse(raw: object, *, depth: int = 0) -> Filter:
    """The filter in a handler's return value; raises :class:`InvalidFilterError`."""
    if not isinstance(raw, Mapping):
        raise InvalidFilterError(f"a filter is a dict, not {type(raw).__name__}")
    return AllOf(tuple(_parse_entry(key, value, depth) for key, value in raw.items()))


def _parse_entry(key: object, value: object, depth: int) -> Filter:
    if not isinstance(key, str):
        raise InvalidFilterError(f"a filter's keys are strings, not {key!r}")
    if key in ("$and", "$or"):
        if depth >= MAX_NESTING:
            raise InvalidFilterError(f"{key} nested deeper than {MAX_NESTING}")
        if not isinstance(value, Sequence) or isinstance(value, str) or not value:
            raise InvalidFilterError(f"{key} takes a non-empty list of filters")
        parts = tuple(parse(part, depth=depth + 1) for part in value)
        return AllOf(parts) if key == "$and" else AnyOf(parts)
    if key.startswith("$"):
        raise InvalidFilterError(f"unknown filter operator {key}")
    if not isinstance(value, Mapping):
        return Equals(key, value)
    if len(value) != 1:
        raise InvalidFilterError(f"the condition on {key!r} takes exactly one of $eq, $contains")
    ((operator, operand),) = value.items()
    if operator == "$eq":
        return Equals(key, operand)
    if operator == "$contains":
        many = isinstance(operand, list)
        return Contains(key, tuple(operand) if many else (operand,))
    raise InvalidFilterError(f"unknown operator {operator!r} on {key!r}")


def all_of(filters: Sequence[Filter]) -> Filter | None:
    """Every filter at once (a caller may meet several handlers' filters); None: no filter."""
    if not filters:
        return None
    return filters[0] if len(filters) == 1 else AllOf(tuple(filters))


def to_sql(condition: Filter, where: Where, column: str) -> str:
    """The condition on the jsonb ``column``, its keys and values added to ``where`` as bind
    parameters. ``column`` is the code's own identifier, never input."""
    if isinstance(condition, Equals):
        key = where.param(condition.key)
        # A None parameter is SQL NULL, which equals nothing; JSON null is a value.
        value = "'null'" if condition.value is None else where.param(condition.value)
        return f"({column} -> {key}::text) = {value}::jsonb"
    if isinstance(condition, Contains):
        key, values = where.param(condition.key), where.param(list(condition.values))
        return (
            f"(jsonb_typeof({column} -> {key}::text) = 'array'"
            f" AND ({column} -> {key}::text) @> {values}::jsonb)"
        )
    if not condition.parts:
        return "TRUE"
    joiner = " AND " if isinstance(condition, AllOf) else " OR "
    return "(" + joiner.join(to_sql(part, where, column) for part in condition.parts) + ")"


def matches(condition: Filter, metadata: Mapping[str, Any]) -> bool:
    """The same test in Python, for an object that did not come from SQL."""
    if isinstance(condition, Equals):
        return condition.key in metadata and metadata[condition.key] == condition.value
    if isinstance(condition, Contains):
        held = metadata.get(condition.key)
        return isinstance(held, list) and all(value in held for value in condition.values)
    if isinstance(condition, AllOf):
        return all(matches(part, metadata) for part in condition.parts)
    return any(matches(part, metadata) for part in condition.parts)


def excludes(condition: Filter | None, metadata: Mapping[str, Any] | None) -> bool:
    """Whether the caller's filter hides an object with this ``metadata`` (None: no filter)."""
    return condition is not None and not matches(condition, metadata or {})
