"""Thread state requests that need graph code (``graphs.<graph_id>.state``, protocol step 2).

Answers ``GetState``, ``GetHistory``, ``UpdateState`` and ``BulkUpdateState`` with a
``StateReply`` whose result has langgraph-api's shapes. A bad request is answered with an
error and the HTTP status the API should use; nothing a client sends crashes the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import EmptyInputError, InvalidUpdateError
from langgraph.store.base import BaseStore
from langgraph.types import StateUpdate
from pydantic import ValidationError

from agentlist.contracts import (
    STATE_REQUEST,
    BulkUpdateState,
    CheckpointRef,
    ErrorInfo,
    GetHistory,
    GetState,
    StateReply,
    UpdateState,
)
from agentlist.worker.loader import Graph, GraphSource
from agentlist.worker.serde import to_jsonable
from agentlist.worker.stream import to_command
from agentlist.worker.thread_state import checkpoint_of, thread_state

logger = logging.getLogger(__name__)

StateRequest = GetState | GetHistory | UpdateState | BulkUpdateState


@dataclass(frozen=True)
class StateService:
    graphs: Mapping[str, GraphSource]
    checkpointer: Callable[[], BaseCheckpointSaver[Any]]
    """A saver per request (see ``Persistence.checkpointer``)."""
    store: BaseStore | None = None

    async def answer(self, graph_id: str, payload: bytes) -> StateReply:
        """The reply to one request on ``graphs.<graph_id>.state``."""
        try:
            request = STATE_REQUEST.validate_json(payload)
        except ValidationError as exc:
            return _failure(422, "ValidationError", str(exc))
        thread_id = request.thread_id
        source = self.graphs.get(graph_id)
        if source is None:
            return _failure(
                404, "GraphNotFound", f"Graph {graph_id!r} is not served here", thread_id
            )
        try:
            config = request_config(request)
            graph = await source.build(config, self.checkpointer(), self.store)
            result = await _perform(graph, request, config)
        except (InvalidUpdateError, EmptyInputError, ValueError, KeyError, TypeError) as exc:
            return _failure(400, type(exc).__name__, str(exc), thread_id)
        except Exception as exc:
            logger.exception("state request on %s failed", graph_id)
            return _failure(500, type(exc).__name__, str(exc), thread_id)
        return StateReply(ok=True, thread_id=thread_id, result=result)


def request_config(request: StateRequest) -> RunnableConfig:
    """The request's config with its thread and checkpoint in ``configurable``."""
    config = dict(request.config)
    configurable = dict(config.get("configurable") or {})
    configurable["thread_id"] = request.thread_id
    checkpoint = request.checkpoint if not isinstance(request, BulkUpdateState) else None
    if checkpoint is not None:
        configurable.update(_checkpoint_fields(checkpoint))
    config["configurable"] = configurable
    return cast(RunnableConfig, config)


def _checkpoint_fields(checkpoint: CheckpointRef) -> dict[str, Any]:
    fields: dict[str, Any] = {"checkpoint_ns": checkpoint.checkpoint_ns}
    if checkpoint.checkpoint_id:
        fields["checkpoint_id"] = checkpoint.checkpoint_id
    if checkpoint.checkpoint_map is not None:
        fields["checkpoint_map"] = checkpoint.checkpoint_map
    return fields


async def _perform(graph: Graph, request: StateRequest, config: RunnableConfig) -> Any:
    if isinstance(request, GetState):
        snapshot = await graph.aget_state(config, subgraphs=request.subgraphs)
        return thread_state(snapshot)
    if isinstance(request, GetHistory):
        return await _history(graph, request, config)
    if isinstance(request, UpdateState):
        updated = await graph.aupdate_state(config, request.values, as_node=request.as_node)
        return _checkpoint_result(updated)
    return await _bulk_update(graph, request, config)


async def _history(graph: Graph, request: GetHistory, config: RunnableConfig) -> list[Any]:
    before: RunnableConfig | None = None
    if request.before is not None and request.before.checkpoint_id:
        fields = {"thread_id": request.thread_id, **_checkpoint_fields(request.before)}
        before = {"configurable": fields}
    history = graph.aget_state_history(
        config, limit=request.limit, before=before, filter=request.metadata or None
    )
    return [thread_state(snapshot) async for snapshot in history]


async def _bulk_update(graph: Graph, request: BulkUpdateState, config: RunnableConfig) -> Any:
    supersteps = [[_state_update(update) for update in step] for step in request.supersteps]
    if hasattr(graph, "abulk_update_state"):
        updated = await graph.abulk_update_state(config, supersteps)
        return _checkpoint_result(updated)
    # Older LangGraph: one checkpoint per update instead of one per superstep.
    for step in supersteps:
        for update in step:
            config = await graph.aupdate_state(config, update.values, as_node=update.as_node)
    return _checkpoint_result(config)


def _state_update(update: Mapping[str, Any]) -> StateUpdate:
    command = update.get("command")
    values = to_command(command) if command else update.get("values")
    # LangGraph applies a Command given as an update's values (langgraph-api does this too).
    return StateUpdate(cast(Any, values), update.get("as_node"), update.get("task_id"))


def _checkpoint_result(config: Mapping[str, Any]) -> dict[str, Any]:
    checkpoint = checkpoint_of(config) or dict(config.get("configurable") or {})
    checkpoint.setdefault("checkpoint_map", None)
    return {"checkpoint": to_jsonable(checkpoint)}


def _failure(
    status_code: int, error: str, message: str, thread_id: str | None = None
) -> StateReply:
    """``thread_id``: the thread asked about (None when the request could not be read)."""
    return StateReply(
        ok=False,
        thread_id=thread_id,
        status_code=status_code,
        error=ErrorInfo(error=error, message=message),
    )
