"""LangGraph's ``StateSnapshot`` in langgraph-api's ``ThreadState`` shape (plain JSON)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from langgraph.types import Interrupt, StateSnapshot

from agentlist.contracts.state import EMPTY_THREAD_STATE
from agentlist.worker.serde import interrupt_dict, to_jsonable


def checkpoint_of(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}`` of a runnable config, or
    None when it names no checkpoint (langgraph-api's ``runnable_config_to_checkpoint``)."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("checkpoint_id"):
        return None
    checkpoint: dict[str, Any] = {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns") or "",
        "checkpoint_id": configurable["checkpoint_id"],
    }
    if "checkpoint_map" in configurable:
        checkpoint["checkpoint_map"] = configurable["checkpoint_map"]
    return checkpoint


def has_checkpoint(snapshot: StateSnapshot) -> bool:
    return snapshot.created_at is not None or checkpoint_of(snapshot.config) is not None


def interrupts_list(interrupts: Iterable[Interrupt]) -> list[dict[str, Any]]:
    return [interrupt_dict(interrupt) for interrupt in interrupts]


def interrupts_by_task(snapshot: StateSnapshot) -> dict[str, list[dict[str, Any]]]:
    """Pending interrupts keyed by task id, as on the thread object."""
    return {task.id: interrupts_list(task.interrupts) for task in snapshot.tasks if task.interrupts}


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    """The ThreadState of ``snapshot``, as JSON values; a thread with no checkpoint yet has
    the empty state."""
    if not has_checkpoint(snapshot):
        return dict(EMPTY_THREAD_STATE)
    checkpoint = checkpoint_of(snapshot.config)
    parent = checkpoint_of(snapshot.parent_config)
    shaped = {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [_task(task) for task in snapshot.tasks],
        "checkpoint": checkpoint,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "parent_checkpoint": parent,
        "interrupts": interrupts_list(snapshot.interrupts),
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }
    return dict(to_jsonable(shaped))


def _task(task: Any) -> dict[str, Any]:
    state = task.state
    return {
        "id": task.id,
        "name": task.name,
        "path": list(task.path),
        "error": _error_text(task.error),
        "interrupts": interrupts_list(task.interrupts),
        "checkpoint": (state.get("configurable") if isinstance(state, Mapping) else None),
        "state": thread_state(state) if isinstance(state, StateSnapshot) else None,
        "result": getattr(task, "result", None),
    }


def _error_text(error: Any) -> Any:
    if isinstance(error, BaseException):
        return {"error": type(error).__name__, "message": str(error)}
    return error
