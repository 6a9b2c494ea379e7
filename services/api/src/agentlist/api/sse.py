"""Server-sent events in langgraph-api's wire format, fed from a run's Redis stream."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from agentlist.api import eventlog
from agentlist.contracts.streams import StreamEnd

logger = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\r\n\r\n"
SSE_HEADERS = {
    "Cache-Control": "no-store",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}
SSE_MEDIA_TYPE = "text/event-stream; charset=utf-8"

RunFinished = Callable[[], Awaitable[bool]]
"""Asks Postgres whether the run has ended (or is gone): the net under a lost end entry."""


class SseResponse(StreamingResponse):
    """An SSE stream that calls ``on_close`` once it is over, however it ends: finished, the
    client gone (before or after the first frame) or failed."""

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            frames, media_type=SSE_MEDIA_TYPE, headers={**SSE_HEADERS, **(headers or {})}
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._on_close is not None:
                self._on_close()


def frame(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One SSE frame; ``data`` is already a single line of JSON."""
    lines = [b"event: " + _one_line(event).encode(), b"data: " + data]
    if event_id is not None:
        lines.append(b"id: " + _one_line(event_id).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _one_line(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


def mode_matches(event: str, modes: Collection[str]) -> bool:
    """langgraph-api's join filter: the exact mode, ``mode|namespace`` by its base mode, any
    ``messages*`` event for ``messages``/``messages-tuple``; ``metadata``/``error`` always."""
    base = event.split("|", 1)[0]
    if base in ("metadata", "error") or base in modes:
        return True
    if base.startswith("messages"):
        return bool({"messages", "messages-tuple"} & set(modes))
    return False


@dataclass(frozen=True)
class StreamRequest:
    redis: Redis
    key: str
    start: str
    """Stream id after which to read (``"0"``: everything)."""
    resumable: bool
    """Send ``id:`` lines (runs created with ``stream_resumable``)."""
    heartbeat_seconds: float
    modes: Collection[str] | None = None
    """Only these modes (join streams); ``None``: every event."""


STREAM_UNAVAILABLE = frame(
    "error",
    b'{"error":"StreamUnavailable","message":"The event store is unreachable; join the run'
    b' again (with Last-Event-ID) to resume."}',
)


async def run_events(request: StreamRequest, finished: RunFinished) -> AsyncIterator[bytes]:
    """SSE frames of one run until its end entry; heartbeats while idle. An event store
    that stays unreachable ends the stream with an ``error`` event a client can retry on."""
    try:
        async for chunk in _run_events(request, finished):
            yield chunk
    except RedisError:
        logger.exception("stream %s: the event store is unreachable", request.key)
        yield STREAM_UNAVAILABLE


async def _run_events(request: StreamRequest, finished: RunFinished) -> AsyncIterator[bytes]:
    idle_after_finish = 0
    async for batch in eventlog.follow(
        request.redis, request.key, request.start, block_seconds=request.heartbeat_seconds
    ):
        if not batch:
            yield HEARTBEAT
            # The bridge writes Postgres before the end entry; a run that stays finished for
            # two idle periods with no end entry lost its stream (Redis data loss).
            idle_after_finish = idle_after_finish + 1 if await finished() else 0
            if idle_after_finish >= 2:
                logger.warning("stream %s ended in Postgres but has no end entry", request.key)
                return
            continue
        for entry in batch:
            if entry.is_end:
                return
            if request.modes is None or mode_matches(entry.event, request.modes):
                yield frame(entry.event, entry.data, entry.id if request.resumable else None)


async def wait_for_end(
    redis: Redis, key: str, start: str, *, heartbeat_seconds: float, finished: RunFinished
) -> AsyncIterator[StreamEnd | None]:
    """``None`` on every idle period (the caller sends a keep-alive), then the run's end."""
    idle_after_finish = 0
    async for batch in eventlog.follow(redis, key, start, block_seconds=heartbeat_seconds):
        end = next((entry for entry in batch if entry.is_end), None)
        if end is not None:
            yield StreamEnd.model_validate_json(end.data)
            return
        if not batch:
            yield None
            idle_after_finish = idle_after_finish + 1 if await finished() else 0
            if idle_after_finish >= 2:
                return


THREAD_STREAM_MODES = frozenset({"run_modes", "lifecycle", "state_update"})


def thread_event_wanted(event: str, modes: Collection[str]) -> bool:
    """``run_modes``: every event of the thread's runs; ``lifecycle``: only their ``metadata``
    (start and ``run_done``); ``state_update``: state updates made through the API."""
    if event == "state_update":
        return "state_update" in modes
    if "run_modes" in modes:
        return True
    return "lifecycle" in modes and event == "metadata"


async def thread_events(
    redis: Redis, key: str, start: str, *, modes: Collection[str], heartbeat_seconds: float
) -> AsyncIterator[bytes]:
    """A thread's events, for as long as the client listens (threads do not end)."""
    async for batch in eventlog.follow(redis, key, start, block_seconds=heartbeat_seconds):
        if not batch:
            yield HEARTBEAT
        for entry in batch:
            if thread_event_wanted(entry.event, modes):
                yield frame(entry.event, entry.data, entry.id)
