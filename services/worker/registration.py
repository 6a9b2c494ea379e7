"""Registering with the registry and heartbeating to it (protocol steps 2 and 3)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import socket
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata

from nats.aio.client import Client
from nats.errors import Error as NatsError
from pydantic import ValidationError

from agentlist.contracts import (
    GraphInfo,
    Heartbeat,
    HeartbeatReply,
    RegisterReply,
    WorkerRegister,
    subjects,
)
from agentlist.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

_BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)
_REQUEST_TIMEOUT = 2.0


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def registration_message(
    worker_id: str, capacity: int, graphs: Sequence[GraphInfo]
) -> WorkerRegister:
    return WorkerRegister(
        worker_id=worker_id,
        language="python",
        version=_version("agentlist"),
        host=socket.gethostname(),
        pid=os.getpid(),
        capacity=capacity,
        graphs=list(graphs),
        runtime={
            "python": platform.python_version(),
            "langgraph": _version("langgraph"),
            "langchain-core": _version("langchain-core"),
        },
    )


async def register(
    nc: Client, message: WorkerRegister, stop: asyncio.Event
) -> RegisterReply | None:
    """Send ``message`` until a registry accepts it (it may start after the worker); None if
    ``stop`` is set first."""
    payload = message.model_dump_json().encode()
    attempt = 0
    while not stop.is_set():
        try:
            answer = await nc.request(subjects.REGISTRY_REGISTER, payload, timeout=_REQUEST_TIMEOUT)
            reply = RegisterReply.model_validate_json(answer.data)
            if reply.accepted:
                return reply
            logger.warning("registration refused: %s", reply.reason)
        except (NatsError, TimeoutError) as exc:
            if attempt % 20 == 0:
                logger.info("no registry answered yet (%r); retrying", exc)
        except ValidationError as exc:
            logger.warning("unreadable registration reply: %s", exc)
        await _sleep_unless(stop, _BACKOFF[min(attempt, len(_BACKOFF) - 1)])
        attempt += 1
    return None


class Heartbeater:
    """Heartbeats every interval, and at once when draining starts."""

    def __init__(
        self,
        nc: Client,
        runtime: WorkerRuntime,
        interval: float,
        reregister: Callable[[], Awaitable[RegisterReply | None]],
    ) -> None:
        self._nc = nc
        self._runtime = runtime
        self.interval = interval
        self._reregister = reregister
        self._wake = asyncio.Event()

    def beat_now(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.beat()
            self._wake.clear()
            await _sleep_unless(self._wake, self.interval)

    async def beat(self) -> None:
        runtime = self._runtime
        message = Heartbeat(
            worker_id=runtime.worker_id,
            capacity=runtime.table.capacity,
            runs=runtime.table.held(),
            draining=runtime.draining,
        )
        try:
            answer = await self._nc.request(
                subjects.REGISTRY_HEARTBEAT,
                message.model_dump_json().encode(),
                timeout=min(self.interval, _REQUEST_TIMEOUT),
            )
            reply = HeartbeatReply.model_validate_json(answer.data)
        except (NatsError, TimeoutError, ValidationError) as exc:
            logger.info("heartbeat unanswered: %r", exc)
            return
        runtime.apply_heartbeat_reply(reply)
        if not reply.known:
            logger.warning("the registry does not know this worker; registering again")
            registered = await self._reregister()
            if registered is not None:
                self.interval = registered.heartbeat_interval


async def _sleep_unless(event: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
