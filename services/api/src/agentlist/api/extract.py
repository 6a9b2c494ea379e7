"""``threads.search(extract={"alias": "values.messages[-1].content"})``: small JSON paths."""

from __future__ import annotations

import re
from typing import Any

from agentlist.api.errors import UnprocessableError

_TOKEN = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(-?\d+)\]")


def parse(path: str) -> list[str | int]:
    """``a.b[0].c`` -> ``["a", "b", 0, "c"]``; anything else is a 422."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _TOKEN.match(path, position)
        if match is None or (position == 0 and path.startswith(".")):
            raise UnprocessableError(f"Invalid extract path: {path!r}")
        key, index = match.groups()
        tokens.append(key if key is not None else int(index))
        position = match.end()
    if not tokens:
        raise UnprocessableError("Extract paths may not be empty")
    return tokens


def extract(document: Any, tokens: list[str | int]) -> Any:
    """The value at the path, or ``None`` where the document has nothing there."""
    current = document
    for token in tokens:
        if (
            isinstance(token, int)
            and isinstance(current, list)
            and -len(current) <= token < len(current)
        ):
            current = current[token]
        elif isinstance(token, str) and isinstance(current, dict):
            current = current.get(token)
        else:
            return None
    return current
