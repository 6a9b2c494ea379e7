"""Which graphs a registering worker may serve, and the system assistant of each graph."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from agentlist.contracts import subjects
from agentlist.contracts.workers import GraphInfo

SYSTEM_METADATA: Final[dict[str, Any]] = {"created_by": "system"}


def is_token(value: str) -> bool:
    try:
        subjects.token(value)
    except ValueError:
        return False
    return True


def rejected_graphs(
    graphs: Iterable[GraphInfo], language: str, live_languages: Mapping[str, set[str]]
) -> dict[str, str]:
    """Graphs the worker may not serve, with the reason. A graph id belongs to one language at
    a time: the language of the live workers already serving it (``live_languages``)."""
    rejected: dict[str, str] = {}
    for graph in graphs:
        if not is_token(graph.graph_id):
            rejected[graph.graph_id] = "a graph id may only hold letters, digits, _ and -"
            continue
        others = live_languages.get(graph.graph_id, set()) - {language}
        if others:
            served_by = ", ".join(sorted(others))
            rejected[graph.graph_id] = f"graph {graph.graph_id!r} is served by {served_by} workers"
    return rejected


def system_assistant_name(graph: GraphInfo) -> str:
    return graph.name or graph.graph_id
