"""Responses that follow a run: SSE streams, and the streamed JSON of ``wait``/``join``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from fastapi.responses import StreamingResponse

from agentlist.api import cancel, eventlog, sse
from agentlist.api.db import runs, threads
from agentlist.api.deps import Resources
from agentlist.api.errors import GoneError
from agentlist.contracts.storage import RUN_END_STATUSES
from agentlist.contracts.streams import StreamEnd, run_end_key, run_stream_key


@dataclass(frozen=True)
class RunRef:
    thread_id: UUID
    run_id: UUID
    tenant: str
    """Whose run it is: the API reads it as that tenant."""
    stateless: bool = False

    @property
    def path(self) -> str:
        if self.stateless:
            return f"/runs/{self.run_id}"
        return f"/threads/{self.thread_id}/runs/{self.run_id}"

    @property
    def key(self) -> str:
        return run_stream_key(str(self.thread_id), str(self.run_id))

    @property
    def end_key(self) -> str:
        return run_end_key(str(self.thread_id), str(self.run_id))


def finished_check(resources: Resources, ref: RunRef) -> sse.RunFinished:
    async def finished() -> bool:
        status = await runs.status(resources.as_tenant(ref.tenant), ref.run_id)
        return status is None or status in RUN_END_STATUSES

    return finished


def wait_body(end: StreamEnd | None, fallback: Any) -> Any:
    """What ``/wait`` and ``/join`` answer: final values (with ``__interrupt__`` when the graph
    stopped at one) or ``{"__error__": {error, message}}`` — with HTTP 200 either way."""
    if end is None:
        return fallback
    if end.status in ("error", "timeout"):
        error = end.error
        return {
            "__error__": {
                "error": error.error if error else "RunError",
                "message": error.message if error else f"run ended with status {end.status}",
            }
        }
    values = end.values if end.values is not None else {}
    interrupts = [item for items in end.interrupts.values() for item in items]
    if interrupts and isinstance(values, dict):
        return {**values, "__interrupt__": interrupts}
    return values


def _cancel_if_abandoned(
    resources: Resources, frames: AsyncIterator[bytes], ref: RunRef, enabled: bool
) -> AsyncIterator[bytes]:
    """``on_disconnect=cancel``: a client that leaves before the end cancels the run."""
    if not enabled:
        return frames

    async def guarded() -> AsyncIterator[bytes]:
        completed = False
        try:
            async for frame in frames:
                yield frame
            completed = True
        finally:
            if not completed:
                task = asyncio.get_running_loop().create_task(
                    cancel.cancel(resources, ref.tenant, [ref.run_id], "interrupt")
                )
                resources.background.add(task)
                task.add_done_callback(resources.background.discard)

    return guarded()


async def live_start(resources: Resources, ref: RunRef) -> str | None:
    """Where a join without ``Last-Event-ID`` starts: after what was already written; ``None``
    when the run already ended (nothing live is left to send)."""
    last = await eventlog.last_entry(resources.redis, ref.key)
    if last is None:
        return eventlog.FROM_START
    return None if last.is_end else last.id


async def stream_expired(resources: Resources, ref: RunRef) -> bool:
    """Whether the run has ended and its stream is gone (past the retention)."""
    return (
        not await eventlog.exists(resources.redis, ref.key)
        and await finished_check(resources, ref)()
    )


async def replay_start(resources: Resources, ref: RunRef, last_event_id: str) -> str:
    """A resume point, refused with 410 once a finished run's stream has expired: a silent
    empty replay would look like a run with no events."""
    if await stream_expired(resources, ref):
        raise GoneError(
            f"The event stream of run {ref.run_id} has expired and cannot be replayed;"
            " read the thread's state instead"
        )
    return last_event_id


async def _nothing() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover - makes this an async generator


def sse_response(
    resources: Resources,
    ref: RunRef,
    *,
    start: str | None,
    resumable: bool,
    modes: Collection[str] | None = None,
    cancel_on_disconnect: bool = False,
    on_close: Callable[[], None] | None = None,
) -> StreamingResponse:
    """``on_close``: called once the stream is over (it releases the tenant's stream slot)."""
    frames: AsyncIterator[bytes]
    if start is None:
        frames = _nothing()
    else:
        request = sse.StreamRequest(
            redis=resources.redis,
            key=ref.key,
            start=start,
            resumable=resumable,
            heartbeat_seconds=resources.settings.sse_heartbeat_seconds,
            modes=modes,
        )
        frames = sse.run_events(request, finished_check(resources, ref))
    return sse.SseResponse(
        _cancel_if_abandoned(resources, frames, ref, cancel_on_disconnect),
        headers={"Location": f"{ref.path}/stream", "Content-Location": ref.path},
        on_close=on_close,
    )


async def _fallback_body(resources: Resources, tenant: str, ref: RunRef) -> Any:
    """The answer when the stream is gone: the run's error, or the thread's values."""
    conn = resources.as_tenant(tenant)
    run = await runs.get(conn, tenant, ref.thread_id, ref.run_id)
    if run is not None and run["status"] in ("error", "timeout") and run["error"]:
        error = run["error"]
        return {"__error__": {"error": error.get("error"), "message": error.get("message")}}
    thread = await threads.get(conn, tenant, ref.thread_id)
    return thread["state_values"] if thread is not None else None


def join_response(
    resources: Resources,
    tenant: str,
    ref: RunRef,
    *,
    cancel_on_disconnect: bool = False,
    expired: bool = False,
) -> StreamingResponse:
    """``expired`` (see :func:`stream_expired`, checked before the response starts so that an
    unreachable server is still a 503): answer from Postgres instead of the stream."""

    async def body() -> AsyncIterator[bytes]:
        end: StreamEnd | None = None
        async for item in (
            _nothing()
            if expired
            else sse.wait_for_end(
                resources.redis,
                ref.end_key,
                eventlog.FROM_START,
                heartbeat_seconds=resources.settings.sse_heartbeat_seconds,
                finished=finished_check(resources, ref),
            )
        ):
            if item is None:
                yield b"\n"  # keeps proxies and clients from timing out an idle wait
            else:
                end = item
        fallback = await _fallback_body(resources, tenant, ref) if end is None else None
        yield orjson.dumps(wait_body(end, fallback))

    return StreamingResponse(
        _cancel_if_abandoned(resources, body(), ref, cancel_on_disconnect),
        media_type="application/json",
        headers={"Location": f"{ref.path}/join", "Content-Location": ref.path},
    )
