"""The ``/metrics`` page in Prometheus' text format: the mesh's gauges (from Postgres, the same
on every instance) and this instance's request latency histogram per route."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from agentlist.api.latency import BUCKETS, Histogram


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, value: float, **labels: str) -> str:
    rendered = ",".join(f'{key}="{_escape(val)}"' for key, val in sorted(labels.items()))
    return f"{name}{{{rendered}}} {value:g}" if rendered else f"{name} {value:g}"


def prometheus(snapshot: dict[str, Any]) -> str:
    lines = [
        "# HELP agentlist_runs Runs waiting for or holding a worker, by status and graph.",
        "# TYPE agentlist_runs gauge",
        *(
            _line("agentlist_runs", row["n"], status=row["status"], graph_id=row["graph_id"])
            for row in snapshot["runs"]
        ),
        "# HELP agentlist_oldest_pending_run_seconds Age of the oldest run due to start.",
        "# TYPE agentlist_oldest_pending_run_seconds gauge",
        _line("agentlist_oldest_pending_run_seconds", snapshot["oldest_pending_seconds"]),
        "# HELP agentlist_workers Workers by state and language.",
        "# TYPE agentlist_workers gauge",
        *(
            _line("agentlist_workers", row["n"], state=row["state"], language=row["language"])
            for row in snapshot["workers"]
        ),
        "# HELP agentlist_worker_capacity Run slots offered, by worker state and language.",
        "# TYPE agentlist_worker_capacity gauge",
        *(
            _line(
                "agentlist_worker_capacity",
                row["capacity"],
                state=row["state"],
                language=row["language"],
            )
            for row in snapshot["workers"]
        ),
        *_graph_lines(snapshot["graphs"]),
        *_pool_lines(snapshot["pools"]),
    ]
    return "\n".join(lines) + "\n"


_GRAPH_GAUGES: Final = (
    ("agentlist_graph_pending_runs", "pending", "Runs waiting for a worker, by graph."),
    ("agentlist_graph_running_runs", "running", "Runs running, by graph."),
    (
        "agentlist_graph_healthy_capacity",
        "healthy_capacity",
        "Run slots of the healthy workers (not draining) serving the graph.",
    ),
)

_POOL_GAUGES: Final = (
    ("agentlist_pool_target_workers", "target", "Workers the pool wants, by pool."),
    ("agentlist_pool_workers", "size", "Workers the pool runs, by pool."),
    ("agentlist_pool_min_workers", "minimum", "The pool's lower bound."),
    ("agentlist_pool_max_workers", "maximum", "The pool's upper bound."),
    (
        "agentlist_pool_last_report_seconds",
        "seconds_since_report",
        "Seconds since the pool last reported.",
    ),
)


def _graph_lines(graphs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What an autoscaler scales a graph's workers on (KEDA: the pending runs)."""
    lines: list[str] = []
    for name, key, about in _GRAPH_GAUGES:
        lines += [f"# HELP {name} {about}", f"# TYPE {name} gauge"]
        lines += [_line(name, row[key], graph_id=row["graph_id"]) for row in graphs]
    return lines


def _pool_lines(pools: Sequence[Mapping[str, Any]]) -> list[str]:
    """The pools that reported lately; their reasons are free text, in the JSON views only."""
    lines: list[str] = []
    for name, key, about in _POOL_GAUGES:
        lines += [f"# HELP {name} {about}", f"# TYPE {name} gauge"]
        lines += [_line(name, row[key], pool_id=row["pool_id"], team=row["team"]) for row in pools]
    return lines


def latency_lines(histograms: Mapping[str, Histogram]) -> str:
    name = "agentlist_api_request_seconds"
    lines = [
        f"# HELP {name} Time until the response starts, by route, at this API instance.",
        f"# TYPE {name} histogram",
    ]
    for route, histogram in sorted(histograms.items()):
        for bound, count in zip(BUCKETS, histogram.buckets, strict=True):
            lines.append(_line(f"{name}_bucket", count, route=route, le=f"{bound:g}"))
        lines.append(_line(f"{name}_bucket", histogram.count, route=route, le="+Inf"))
        lines.append(_line(f"{name}_sum", histogram.total_seconds, route=route))
        lines.append(_line(f"{name}_count", histogram.count, route=route))
    return "\n".join(lines) + "\n"
