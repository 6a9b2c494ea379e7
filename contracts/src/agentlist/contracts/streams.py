"""The Redis Streams layout shared by the bridge (writer) and every API instance (readers).

Keys carry the thread id as a hash tag so that a run's stream, its cursor and its thread's
stream live in one Redis Cluster slot and can be written by one script.

Every entry has the fields ``event`` (the SSE event name) and ``data`` (one line of JSON).
Entries of a thread stream also carry ``run_id``. An entry whose event is :data:`END_EVENT` is
a control entry: it closes the run's stream, holds a :class:`StreamEnd`, and is never sent to
clients. Entry ids are Redis-generated (``<ms>-<n>``) and are the SSE ``id:`` values.

The other keys the API instances share live here too: each tenant's token bucket.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field

from agentlist.contracts._wire import WireModel
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.storage import RunEndStatus

KEY_PREFIX: Final = "agentlist:v1"
FIELD_EVENT: Final = "event"
FIELD_DATA: Final = "data"
FIELD_RUN_ID: Final = "run_id"
END_EVENT: Final = "__end__"


def run_stream_key(thread_id: str, run_id: str) -> str:
    return f"{KEY_PREFIX}:{{{thread_id}}}:run:{run_id}"


def run_cursor_key(thread_id: str, run_id: str) -> str:
    """Hash ``{attempt, seq}``: the last message of the run written to its stream."""
    return f"{KEY_PREFIX}:{{{thread_id}}}:run:{run_id}:cursor"


def run_end_key(thread_id: str, run_id: str) -> str:
    """A stream holding only a copy of the run's end entry, written with it: what ``/wait`` and
    ``/join`` block on, so that a waiting client wakes once per run, not once per event."""
    return f"{KEY_PREFIX}:{{{thread_id}}}:run:{run_id}:end"


def thread_stream_key(thread_id: str) -> str:
    return f"{KEY_PREFIX}:{{{thread_id}}}:thread"


def tenant_run_bucket_key(tenant: str) -> str:
    """Hash ``{tokens, at}``: the tenant's token bucket for run creation, shared by every API
    instance (``agentlist/api/token_bucket.lua``); absent when it is full."""
    return f"{KEY_PREFIX}:tenant:{tenant}:run_bucket"


class StreamEnd(WireModel):
    """Payload of the end entry: the run's final status and what ``/wait`` answers with."""

    status: RunEndStatus
    values: Any = None
    interrupts: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    next: list[str] = Field(default_factory=list)
    error: ErrorInfo | None = None
