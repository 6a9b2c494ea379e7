"""NATS for every process: one way to connect, one way to answer requests, the events stream.

AgentList uses nats-py directly. A typed FastStream subscriber cost about 280 µs more CPU per
request than :func:`serve_requests` (``benchmarks/nats_stack.py``), and every run crosses
several of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Final, TypeVar

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError
from pydantic import ValidationError

from agentlist.contracts import subjects
from agentlist.contracts._wire import WireModel
from agentlist.contracts.access import inbox_prefix
from agentlist.core.lifecycle import FatalError
from agentlist.core.retry import Transient, retry

logger = logging.getLogger(__name__)

Request = TypeVar("Request", bound=WireModel)

TRANSIENT: Final[Transient] = (
    OSError,  # refused and reset connections; TimeoutError is one too
    nats.errors.Error,  # no servers, no responders, a connection closed or draining
)
"""The errors that mean NATS (or the way to it) is away, not that a message was wrong."""


async def connect(url: str, name: str) -> Client:
    """Connect once; after that the client reconnects by itself for ever, since a restarted
    NATS server is a normal event. Replies come to the inbox prefix of the URL's user, the
    only one the server lets that user read (:func:`agentlist.contracts.access.inbox_prefix`)."""

    async def on_error(exc: Exception) -> None:
        logger.warning("nats error: %r", exc)

    async def on_disconnect() -> None:
        logger.warning("nats disconnected")

    async def on_reconnect() -> None:
        logger.info("nats reconnected")

    nc = await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        connect_timeout=2,
        allow_reconnect=True,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        inbox_prefix=inbox_prefix(url_user(url)),
    )
    version = nc.connected_server_version
    if below_floor((version.major, version.minor, version.patch)):
        await nc.close()
        raise FatalError(
            f"the NATS server is version {version.major}.{version.minor}.{version.patch},"
            f" older than {subjects.NATS_SERVER_FLOOR}, which AgentList needs"
        )
    return nc


def below_floor(version: tuple[int, int, int]) -> bool:
    """Whether a nats-server ``version`` is older than the mesh's floor."""
    floor = tuple(int(part) for part in subjects.NATS_SERVER_FLOOR.split("."))
    return version < floor


def url_user(url: str) -> str | None:
    """The user of ``nats://user:password@host:port``, if any (read by hand: the scheduler's
    wall keeps urllib out of its imports)."""
    userinfo, at, _host = url.split("://", 1)[-1].rpartition("@")
    return (userinfo.split(":", 1)[0] or None) if at else None


@contextlib.asynccontextmanager
async def connected(
    url: str, name: str, stop: asyncio.Event, most_backoff: float
) -> AsyncIterator[Client | None]:
    """A :func:`connect`ed client, waiting for a server that is not up yet (None if ``stop``
    came first), drained on the way out so that replies and acks in flight are delivered."""
    nc = await retry(
        f"nats at {url}", lambda: connect(url, name), stop, transient=TRANSIENT, most=most_backoff
    )
    try:
        yield nc
    finally:
        if nc is not None:
            with contextlib.suppress(*TRANSIENT):
                await nc.drain()


async def serve_requests(
    nc: Client,
    subject: str,
    request_type: type[Request],
    handler: Callable[[Request, str], Awaitable[WireModel]],
    *,
    queue: str = "",
) -> Subscription:
    """Answer each request on ``subject`` (a wildcard, perhaps) with what ``handler`` returns
    for it and the subject it came on, decoded and encoded with the contracts' models. An
    unreadable request, or one whose handler failed, gets no answer: its sender times out and
    retries, as it does for a lost message."""

    async def on_request(msg: Msg) -> None:
        try:
            request = request_type.model_validate_json(msg.data)
        except ValidationError as exc:
            logger.warning("%s: unreadable %s: %s", subject, request_type.__name__, exc)
            return
        try:
            reply = await handler(request, msg.subject)
        except Exception:
            logger.exception("%s: answering %s failed", subject, request_type.__name__)
            return
        if msg.reply:
            await nc.publish(msg.reply, reply.model_dump_json().encode())

    return await nc.subscribe(subject, queue=queue, cb=on_request)


def events_stream_config(max_age_seconds: float, replicas: int = 1) -> StreamConfig:
    """Run events are kept past their run so that Redis can be rebuilt from them, on
    ``replicas`` servers of a cluster."""
    return StreamConfig(
        name=subjects.EVENTS_STREAM,
        subjects=[subjects.RUN_EVENTS_ALL],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max_age_seconds,
        duplicate_window=120.0,
        num_replicas=replicas,
    )


async def ensure_events_stream(js: JetStreamContext, max_age_seconds: float, replicas: int) -> None:
    """Create the stream, or bring an existing one to this config (NATS raises or lowers
    its replicas in place)."""
    config = events_stream_config(max_age_seconds, replicas)
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)
