"""The launcher's servers against a port another process holds: ``free_port()`` only finds a
port that is free for now, and a server restarted on its old port may find it taken."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from waitkit import eventually

from agentlist.launcher.identities import Identities
from agentlist.launcher.process import port_taken
from agentlist.launcher.servers import RedisServer


@pytest.fixture
def folder() -> Iterator[Path]:
    # The launcher's kind of temp folder: pytest's is private to root.
    path = Path(tempfile.mkdtemp(prefix="agentlist-ports-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def holder() -> Iterator[socket.socket]:
    """A socket listening on a port of its own, as another server would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


async def pong(server: RedisServer) -> bool:
    client = Redis.from_url(server.url)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


async def test_a_server_whose_chosen_port_was_taken_moves_to_another(
    folder: Path, holder: socket.socket
) -> None:
    server = RedisServer(folder, Identities.load_or_create(folder))
    held = holder.getsockname()[1]
    server.port = held  # as if another process took the port free_port() had found
    try:
        await asyncio.to_thread(server.start)
        assert server.port != held and await pong(server)
    finally:
        server.stop()


async def test_a_restarted_server_waits_for_its_old_port(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = RedisServer(folder, Identities.load_or_create(folder))
    server.start()
    port = server.port
    try:
        server.stop()
        squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        assert port_taken(port)
        caplog.set_level(logging.WARNING, logger="agentlist.launcher.servers")
        restart = asyncio.create_task(asyncio.to_thread(server.start))
        try:
            await eventually(
                lambda: "taken by another process" in caplog.text,
                within=30,
                what="a launch refused for the taken port",
            )
            assert not restart.done()
        finally:
            squatter.close()
        await asyncio.wait_for(restart, 30)
        assert server.port == port and await pong(server)
    finally:
        server.stop()


def test_port_taken_tells_a_listening_port_from_a_released_one(holder: socket.socket) -> None:
    port = holder.getsockname()[1]
    assert port_taken(port)
    holder.close()
    assert not port_taken(port)
