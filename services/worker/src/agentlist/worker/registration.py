"""Registering with the registry and heartbeating to it (protocol steps 2 and 3)."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
from collections.abc import Awaitable, Callable, Sequence
from importlib import metadata
from typing import Final

from nats.aio.client import Client
from pydantic import ValidationError

from agentlist.contracts import (
    GraphInfo,
    Heartbeat,
    HeartbeatReply,
    RegisterReply,
    WorkerRegister,
    subjects,
)
from agentlist.core import nats as mesh_nats
from agentlist.core.lifecycle import FatalError
from agentlist.core.retry import Transient, retry, sleep_unless
from agentlist.worker.runtime import WorkerRuntime

logger = logging.getLogger(__name__)

_MOST_BACKOFF = 2.0
_REQUEST_TIMEOUT = 2.0
# An unreadable reply is retried: a registry of a newer version may be rolling out.
_UNANSWERED: Final[Transient] = (*mesh_nats.TRANSIENT, ValidationError)


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
    nc: Client, message: WorkerRegister, team: str, stop: asyncio.Event
) -> RegisterReply | None:
    """Send ``message`` as a worker of ``team`` until a registry answers it (one may start
    after the worker); None if ``stop`` is set first. A refusal is fatal: the worker cannot
    join as configured."""
    payload = message.model_dump_json().encode()

    async def attempt() -> RegisterReply:
        answer = await nc.request(
            subjects.registry_register(team), payload, timeout=_REQUEST_TIMEOUT
        )
        reply = RegisterReply.model_validate_json(answer.data)
        if not reply.accepted:
            raise FatalError(f"the registry refused worker {message.worker_id}: {reply.reason}")
        return reply

    return await retry("registration", attempt, stop, transient=_UNANSWERED, most=_MOST_BACKOFF)


class Heartbeater:
    """Heartbeats every interval, and at once when draining starts."""

    def __init__(
        self,
        nc: Client,
        runtime: WorkerRuntime,
        team: str,
        interval: float,
        reregister: Callable[[], Awaitable[RegisterReply | None]],
    ) -> None:
        self._nc = nc
        self._runtime = runtime
        self._subject = subjects.registry_heartbeat(team)
        self.interval = interval
        self._reregister = reregister
        self._wake = asyncio.Event()

    def beat_now(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.beat()
            self._wake.clear()
            await sleep_unless(self._wake, self.interval)

    async def beat(self, *, stopping: bool = False) -> None:
        """One heartbeat; ``stopping``: the last one, after draining, as the worker exits."""
        runtime = self._runtime
        message = Heartbeat(
            worker_id=runtime.worker_id,
            capacity=runtime.table.capacity,
            runs=runtime.table.held(),
            draining=runtime.draining,
            stopping=stopping,
        )
        try:
            answer = await self._nc.request(
                self._subject,
                message.model_dump_json().encode(),
                timeout=min(self.interval, _REQUEST_TIMEOUT),
            )
            reply = HeartbeatReply.model_validate_json(answer.data)
        except _UNANSWERED as exc:
            logger.info("heartbeat unanswered: %r", exc)
            return
        if stopping:
            return
        runtime.apply_heartbeat_reply(reply)
        if not reply.known:
            logger.warning("the registry does not know this worker; registering again")
            registered = await self._reregister()
            if registered is not None:
                self.interval = registered.heartbeat_interval
