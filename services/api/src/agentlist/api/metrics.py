"""The ``/metrics`` page in Prometheus' text format: the mesh's gauges (from Postgres, the same
on every instance) and this instance's request latency histogram per route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    ]
    return "\n".join(lines) + "\n"


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
