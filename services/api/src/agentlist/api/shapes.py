"""The JSON shapes clients receive, made from the rows of the query layer (:mod:`db`)."""

from __future__ import annotations

from typing import Any

import asyncpg

from agentlist.api.db.metrics import Gauges


def assistant(row: asyncpg.Record) -> dict[str, Any]:
    return {**assistant_version(row), "updated_at": row["updated_at"]}


def assistant_version(row: asyncpg.Record) -> dict[str, Any]:
    """An AssistantVersion: an assistant as it was, with no ``updated_at``."""
    return {
        "assistant_id": str(row["assistant_id"]),
        "graph_id": row["graph_id"],
        "config": row["config"],
        "context": row["context"],
        "metadata": row["metadata"],
        "version": row["version"],
        "name": row["name"],
        "description": row["description"],
        "created_at": row["created_at"],
    }


def thread(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "thread_id": str(row["thread_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "state_updated_at": row["state_updated_at"],
        "metadata": row["metadata"],
        "config": row["config"],
        "status": row["status"],
        "values": row["state_values"],
        "interrupts": row["interrupts"],
        "error": row["error"],
    }


def run(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "run_id": str(row["run_id"]),
        "thread_id": str(row["thread_id"]),
        "assistant_id": str(row["assistant_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "status": row["status"],
        "metadata": row["metadata"],
        "kwargs": row["kwargs"],
        "multitask_strategy": row["multitask_strategy"],
    }


def cron(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "cron_id": str(row["cron_id"]),
        "assistant_id": str(row["assistant_id"]),
        "thread_id": str(row["thread_id"]) if row["thread_id"] else None,
        "on_run_completed": row["on_run_completed"],
        "end_time": row["end_time"],
        "schedule": row["schedule"],
        "timezone": row["timezone"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "payload": row["payload"],
        "user_id": row["user_id"],
        "next_run_date": row["next_run_date"],
        "metadata": row["metadata"],
        "enabled": row["enabled"],
    }


def worker(row: asyncpg.Record) -> dict[str, object]:
    return {
        "worker_id": row["worker_id"],
        "language": row["language"],
        "version": row["version"],
        "host": row["host"],
        "pid": row["pid"],
        "state": "draining" if row["drain_requested"] and row["state"] != "dead" else row["state"],
        "capacity": row["capacity"],
        "inflight": row["inflight"],
        "load": row["inflight"] / row["capacity"],
        "graphs": row["graphs"],
        "runtime": row["runtime"],
        "registered_at": row["registered_at"],
        "last_heartbeat_at": row["last_heartbeat_at"],
        "seconds_since_heartbeat": round(row["seconds_since_heartbeat"], 3),
        "pool_id": row["pool_id"],
    }


def pool(row: asyncpg.Record) -> dict[str, object]:
    """A worker pool's last report."""
    return {
        "pool_id": row["pool_id"],
        "team": row["team"],
        "graphs": row["graphs"],
        "minimum": row["minimum"],
        "maximum": row["maximum"],
        "target": row["target"],
        "size": row["size"],
        "workers": row["workers"],
        "reason": row["reason"],
        "reported_at": row["reported_at"],
        "seconds_since_report": round(row["seconds_since_report"], 3),
    }


def gauges(snapshot: Gauges) -> dict[str, Any]:
    """``/metrics?format=json``, and what the Prometheus page is rendered from."""
    return {
        "runs": [dict(row) for row in snapshot.runs],
        "oldest_pending_seconds": snapshot.oldest_pending_seconds,
        "workers": [dict(row) for row in snapshot.workers],
        "graphs": [dict(row) for row in snapshot.graphs],
        "pools": [pool(row) for row in snapshot.pools],
    }
