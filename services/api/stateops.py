"""Thread state needs graph code: ask any worker serving the thread's graph, over NATS."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as Nats
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from agentlist.api.errors import ApiError, ServiceUnavailableError
from agentlist.contracts import subjects
from agentlist.contracts.state import BulkUpdateState, GetHistory, GetState, StateReply, UpdateState

StateRequest = GetState | GetHistory | UpdateState | BulkUpdateState

EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "checkpoint": None,
    "metadata": None,
    "created_at": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}
"""The state of a thread no run has touched yet: answered without a worker."""


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
    if not reply.ok:
        error = ApiError(reply.error.message if reply.error else "State request failed")
        error.status_code = reply.status_code
        raise error
    return reply.result
