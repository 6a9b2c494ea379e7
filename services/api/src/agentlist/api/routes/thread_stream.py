"""``GET /threads/{id}/stream``: every run of a thread, multiplexed, resumable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from agentlist.api import eventlog, sse
from agentlist.api.deps import CallerDep, ResourcesDep
from agentlist.api.errors import UnprocessableError
from agentlist.api.routes.threads import require_thread
from agentlist.contracts.streams import thread_stream_key

router = APIRouter(prefix="/threads", tags=["Threads"])


def _modes(values: list[str] | None) -> set[str]:
    modes = {part.strip() for value in values or [] for part in value.split(",") if part.strip()}
    unknown = modes - sse.THREAD_STREAM_MODES
    if unknown:
        raise UnprocessableError(
            f"Unknown stream_modes {sorted(unknown)}; use {sorted(sse.THREAD_STREAM_MODES)}"
        )
    return modes or {"run_modes"}


@router.get("/{thread_id}/stream")
async def join_thread_stream(
    thread_id: str,
    resources: ResourcesDep,
    caller: CallerDep,
    stream_modes: Annotated[list[str] | None, Query()] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    thread = await require_thread(resources, caller, thread_id)
    key = thread_stream_key(str(thread["thread_id"]))
    if last_event_id is None:
        last = await eventlog.last_entry(resources.redis, key)
        start = last.id if last is not None else eventlog.FROM_START
    else:
        resume = eventlog.resume_point(last_event_id)
        if resume is None:
            raise UnprocessableError("Last-Event-ID must be a stream entry id, or -1")
        start = resume
    with resources.limits.stream_slot(caller.tenant) as release:
        return sse.SseResponse(
            sse.thread_events(
                resources.redis,
                key,
                start,
                modes=_modes(stream_modes),
                heartbeat_seconds=resources.settings.sse_heartbeat_seconds,
            ),
            on_close=release,
        )
