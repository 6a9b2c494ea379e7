"""Thread state needs graph code: ask any worker serving the thread's graph, over NATS."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from uuid import UUID

from nats.aio.client import Client as Nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from agentlist.api.db import threads
from agentlist.api.errors import ApiError, ServiceUnavailableError
from agentlist.contracts import subjects
from agentlist.contracts.state import (
    BulkUpdateState,
    GetHistory,
    GetState,
    StateReply,
    UpdateState,
)
from agentlist.db.checkpoints import keep_latest_checkpoints

if TYPE_CHECKING:
    from agentlist.api.deps import Resources

logger = logging.getLogger(__name__)

StateRequest = GetState | GetHistory | UpdateState | BulkUpdateState


async def ask(nats: Nats, graph_id: str, request: StateRequest, wait_seconds: float) -> Any:
    """The worker's result, or the error it reported with its HTTP status."""
    try:
        message = await nats.request(
            subjects.graph_state(graph_id), request.model_dump_json().encode(), timeout=wait_seconds
        )
    except NoRespondersError:
        raise ServiceUnavailableError(
            f"No worker serving graph '{graph_id}' is available", headers={"Retry-After": "1"}
        ) from None
    except NatsTimeoutError:
        raise ServiceUnavailableError(
            f"No worker serving graph '{graph_id}' answered in {wait_seconds:.0f}s",
            headers={"Retry-After": "1"},
        ) from None
    reply = StateReply.model_validate_json(message.data)
    if not answers(reply, request.thread_id):
        # Any member of the queue group may answer; one that speaks of another thread is
        # either broken or lying, and its answer is shown to no one.
        logger.warning(
            "graph %s: refused an answer about thread %s that names another thread "
            "(reply subject %s, headers %s)",
            graph_id,
            request.thread_id,
            message.subject,
            dict(message.headers or {}),
        )
        raise ServiceUnavailableError(
            f"No trustworthy answer about thread '{request.thread_id}' came from graph "
            f"'{graph_id}'",
            headers={"Retry-After": "1"},
        )
    if not reply.ok:
        error = ApiError(reply.error.message if reply.error else "State request failed")
        error.status_code = reply.status_code
        raise error
    return reply.result


def answers(reply: StateReply, thread_id: str) -> bool:
    """Whether ``reply`` is about ``thread_id``: it says so, and every checkpoint it returns
    (a state's own and its parent's, each state's of a history, an update's) is one of it."""
    if reply.thread_id != thread_id:
        return False
    return all(named == thread_id for named in _checkpoint_threads(reply.result))


def _checkpoint_threads(result: Any) -> Iterator[Any]:
    states = result if isinstance(result, list) else [result]
    for state in states:
        if not isinstance(state, dict):
            continue
        for key in ("checkpoint", "parent_checkpoint"):
            checkpoint = state.get(key)
            if isinstance(checkpoint, dict) and "thread_id" in checkpoint:
                yield checkpoint["thread_id"]


def thread_config(thread_id: str, graph_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "graph_id": graph_id}}


def interrupts_by_task(state: dict[str, Any]) -> dict[str, Any]:
    """The thread object's ``interrupts``: pending interrupts keyed by the task that raised them."""
    return {
        task["id"]: task["interrupts"]
        for task in state.get("tasks") or []
        if task.get("interrupts")
    }


async def refresh_thread(
    resources: Resources, tenant: str, thread_id: UUID, graph_id: str
) -> dict[str, Any]:
    """Read the thread's latest state from a worker and mirror it on the thread row (so thread
    reads and searches need no worker). Returns the state."""
    state: dict[str, Any] = await ask(
        resources.nats,
        graph_id,
        GetState(thread_id=str(thread_id), config=thread_config(str(thread_id), graph_id)),
        resources.settings.state_timeout_seconds,
    )
    await threads.touch_state(
        resources.as_tenant(tenant),
        thread_id,
        state.get("values"),
        interrupts_by_task(state),
        list(state.get("next") or []),
    )
    return state


async def prune_checkpoints(resources: Resources, thread_ids: list[UUID]) -> None:
    async with resources.pool.acquire() as conn, conn.transaction():
        for thread_id in thread_ids:
            await keep_latest_checkpoints(conn, str(thread_id))
