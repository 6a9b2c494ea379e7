"""Reading run and thread event streams from Redis (written by the bridge)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agentlist.contracts.streams import (
    END_EVENT,
    FIELD_DATA,
    FIELD_EVENT,
    FIELD_RUN_ID,
    thread_stream_key,
)

_EVENT = FIELD_EVENT.encode()
_DATA = FIELD_DATA.encode()
_RUN_ID = FIELD_RUN_ID.encode()
_ENTRY_ID = re.compile(r"^\d+(-\d+)?$")
FROM_START = "0"


@dataclass(frozen=True)
class Entry:
    id: str
    event: str
    data: bytes
    run_id: str | None = None

    @property
    def is_end(self) -> bool:
        return self.event == END_EVENT


def _entry(entry_id: Any, fields: Any) -> Entry:
    """An entry as redis-py returns it (bytes, since responses are not decoded)."""
    run_id = fields.get(_RUN_ID)
    return Entry(
        id=entry_id.decode(),
        event=fields.get(_EVENT, b"").decode(),
        data=fields.get(_DATA, b"null"),
        run_id=run_id.decode() if run_id is not None else None,
    )


def resume_point(last_event_id: str | None) -> str | None:
    """Where a ``Last-Event-ID`` resumes: after that entry, from the start for ``-1``/``0``/
    ``-``, and ``None`` when the header is not a stream id."""
    if last_event_id is None:
        return None
    value = last_event_id.strip()
    if value in ("-1", "-", "0", ""):
        return FROM_START
    return value if _ENTRY_ID.fullmatch(value) else None


async def last_entry(redis: Redis, key: str) -> Entry | None:
    newest = await redis.xrevrange(key, count=1)
    return _entry(*newest[0]) if newest else None


async def exists(redis: Redis, key: str) -> bool:
    return bool(await redis.exists(key))


OUTAGE_PATIENCE_SECONDS = 30.0
"""How long a reader rides out an unreachable Redis (a restart) before giving up."""


async def follow(
    redis: Redis, key: str, after: str, *, block_seconds: float
) -> AsyncIterator[list[Entry]]:
    """Entries after ``after``, batch by batch; an empty batch means nothing came for
    ``block_seconds`` (callers send a heartbeat then). A Redis restart is ridden out from the
    same cursor, so a client sees a pause, not a gap; a longer outage raises."""
    cursor = after
    down_since: float | None = None
    while True:
        try:
            # RESP2 shape: [[key, [(id, {field: value}), ...]]]
            response: Any = await redis.xread(
                {key: cursor}, count=512, block=int(block_seconds * 1000)
            )
        except (RedisConnectionError, RedisTimeoutError):
            now = time.monotonic()
            down_since = down_since or now
            if now - down_since > OUTAGE_PATIENCE_SECONDS:
                raise
            await asyncio.sleep(0.25)
            yield []
            continue
        down_since = None
        if not response:
            yield []
            continue
        _key, raw_entries = response[0]
        entries = [_entry(entry_id, fields) for entry_id, fields in raw_entries]
        cursor = entries[-1].id
        yield entries


async def append_thread_event(
    redis: Redis, thread_id: str, event: str, data: bytes, ttl_seconds: int
) -> None:
    """An event of the thread itself (``state_update``), not of a run: written by the API, which
    is where state updates happen; runs' events are written only by the bridge."""
    key = thread_stream_key(thread_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(key, {FIELD_EVENT: event, FIELD_DATA: data})
        pipe.expire(key, ttl_seconds)
        await pipe.execute()
