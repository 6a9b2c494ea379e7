"""LangGraph stream chunks as langgraph-api's SSE events (its ``astream_state``).

The API's stream modes are not LangGraph's: ``messages-tuple`` is LangGraph's ``messages``
mode sent as ``[chunk, metadata]``; ``messages`` accumulates the same chunks into
``messages/metadata``, ``messages/partial`` and ``messages/complete`` events; ``events`` is
``astream_events(version="v2")``. Subgraph events are named ``<event>|<ns1>|<ns2>``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import (
    BaseMessage,
    BaseMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

from agentlist.worker.thread_state import checkpoint_of

EventPair = tuple[str, Any]

_SAME_NAME_MODES = ("values", "updates", "custom", "debug", "tasks", "checkpoints")
_MESSAGE_MODES = ("messages", "messages-tuple")


@dataclass(frozen=True)
class StreamPlan:
    """What to ask LangGraph for, given the stream modes a client asked the API for."""

    requested: frozenset[str]
    graph_modes: tuple[str, ...]
    use_events: bool
    subgraphs: bool


def plan_stream(stream_modes: Sequence[str], subgraphs: bool) -> StreamPlan:
    requested = frozenset(stream_modes or ("values",))
    graph_modes = [mode for mode in _SAME_NAME_MODES if mode in requested]
    if requested & set(_MESSAGE_MODES):
        graph_modes.append("messages")
    if not graph_modes:
        # ``events`` alone: LangGraph still needs some mode; its chunks are not sent.
        graph_modes.append("values")
    return StreamPlan(requested, tuple(graph_modes), "events" in requested, subgraphs)


def event_name(base: str, namespace: Sequence[str]) -> str:
    return "|".join((base, *namespace)) if namespace else base


@dataclass
class ChunkTranslator:
    """Turns each ``(namespace, mode, chunk)`` of one run into zero or more events."""

    plan: StreamPlan
    _messages: dict[str, BaseMessage] = field(default_factory=dict)

    def translate(self, namespace: Sequence[str], mode: str, chunk: Any) -> Iterator[EventPair]:
        ns = namespace if self.plan.subgraphs else ()
        if mode == "messages":
            yield from self._messages_events(ns, chunk)
        elif mode in self.plan.requested:
            yield event_name(mode, ns), _preprocess(mode, chunk)

    def _messages_events(self, ns: Sequence[str], chunk: Any) -> Iterator[EventPair]:
        if "messages-tuple" in self.plan.requested:
            yield event_name("messages", ns), chunk
        if "messages" not in self.plan.requested:
            return
        message, metadata = _as_message(chunk)
        key = message.id or ""
        known = self._messages.get(key)
        if known is None:
            self._messages[key] = message
            yield event_name("messages/metadata", ns), {key: {"metadata": metadata}}
        elif isinstance(known, BaseMessageChunk) and isinstance(message, BaseMessageChunk):
            self._messages[key] = known + message
        else:
            self._messages[key] = message
        name = "messages/partial" if isinstance(message, BaseMessageChunk) else "messages/complete"
        yield event_name(name, ns), [_complete(self._messages[key])]


def _as_message(chunk: Any) -> tuple[BaseMessage, Any]:
    message, metadata = chunk
    if isinstance(message, dict):
        # A remote graph streams messages as dicts.
        message = convert_to_messages([message])[0]
    return message, metadata


def _complete(message: BaseMessage) -> BaseMessage:
    if isinstance(message, BaseMessageChunk):
        return message_chunk_to_message(message)
    return message


def _preprocess(mode: str, chunk: Any) -> Any:
    """Checkpoint payloads gain ``checkpoint``/``parent_checkpoint`` like langgraph-api's."""
    if mode == "checkpoints" and isinstance(chunk, dict):
        return _with_checkpoints(chunk)
    if mode == "debug" and isinstance(chunk, dict) and chunk.get("type") == "checkpoint":
        payload = chunk.get("payload")
        if isinstance(payload, dict):
            return {**chunk, "payload": _with_checkpoints(payload)}
    return chunk


def _with_checkpoints(payload: Mapping[str, Any]) -> dict[str, Any]:
    shaped = dict(payload)
    shaped["checkpoint"] = checkpoint_of(payload.get("config"))
    shaped["parent_checkpoint"] = checkpoint_of(payload.get("parent_config"))
    tasks = payload.get("tasks")
    if isinstance(tasks, list | tuple):
        shaped["tasks"] = [_task_checkpoint(task) for task in tasks]
    return shaped


def _task_checkpoint(task: Any) -> Any:
    if not isinstance(task, dict) or not isinstance(task.get("state"), Mapping):
        return task
    shaped = {key: value for key, value in task.items() if key != "state"}
    shaped["checkpoint"] = task["state"].get("configurable")
    return shaped
