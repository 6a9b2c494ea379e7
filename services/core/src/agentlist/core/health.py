"""A process's health on a port of its own, for probes (Kubernetes, Compose, a load balancer).

``GET /livez`` answers 200 while the event loop runs: a process that stops answering is stuck
and should be restarted. ``GET /readyz`` answers 200 when the process can do its work (its
servers answer; a worker is registered), else 503: it is given no traffic and is not
restarted for it, since waiting for a server is normal. Nothing else is served, and nothing
about the mesh is said: the port gives no more away than whether the process is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Final

logger = logging.getLogger(__name__)

Readiness = Callable[[], Awaitable[bool]]

READ_TIMEOUT: Final = 2.0
"""A probe that sends nothing this long is dropped: slow clients hold no task for long."""
READY_TIMEOUT: Final = 2.0
"""A readiness check slower than this counts as not ready."""
_MAX_REQUEST_LINE: Final = 1024


async def not_ready() -> bool:
    return False


@asynccontextmanager
async def serving(host: str, port: int | None, ready: Readiness) -> AsyncIterator[int | None]:
    """Serve the probes on ``host:port`` while inside (None: no port, nothing served); yields
    the port bound (``0`` asks for any free one)."""
    if port is None:
        yield None
        return

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await _status(reader, ready)
            writer.write(_response(status))
            await writer.drain()
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(answer, host, port)
    bound = int(server.sockets[0].getsockname()[1])
    logger.info("health probes on http://%s:%d/livez and /readyz", host, bound)
    try:
        yield bound
    finally:
        server.close()
        await server.wait_closed()


async def _status(reader: asyncio.StreamReader, ready: Readiness) -> int:
    line = await asyncio.wait_for(reader.readline(), READ_TIMEOUT)
    if len(line) > _MAX_REQUEST_LINE:
        return 414
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return 400
    if parts[0] not in ("GET", "HEAD"):
        return 405
    path = parts[1].split("?", 1)[0]
    if path == "/livez":
        return 200
    if path == "/readyz":
        return 200 if await _ready_in_time(ready) else 503
    return 404


async def _ready_in_time(ready: Readiness) -> bool:
    try:
        return await asyncio.wait_for(ready(), READY_TIMEOUT)
    except Exception:  # a failing check is the answer: not ready
        logger.debug("readiness check failed", exc_info=True)
        return False


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    503: "Service Unavailable",
}


def _response(status: int) -> bytes:
    body = b"ok\n" if status == 200 else f"{_REASONS[status].lower()}\n".encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
        "Content-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body
