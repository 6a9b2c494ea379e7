"""Probing what a NATS identity may do: the permission errors the server sends it, and what it
hears of a message published by someone else."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client
from nats.aio.msg import Msg
from waitkit import eventually

SILENCE = 0.5
"""How long a subscriber that must receive nothing is watched."""


class Violations:
    """The errors the server sent one client (nats-py hands them to ``error_cb``)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.seen.append(str(exc))

    def about(self, subject: str) -> bool:
        # nats-py lowers the server's message.
        return any(
            "permissions violation" in s.lower() and subject.lower() in s.lower() for s in self.seen
        )


async def heard(
    client: Client, subject: str, publisher: Client, sent: str, *, expected: bool = False
) -> list[bytes]:
    """What ``client``, subscribed to ``subject``, receives of a message ``publisher`` sends to
    ``sent``: waiting for it if ``expected``, else watching for :data:`SILENCE`."""
    got: list[bytes] = []

    async def keep(msg: Msg) -> None:
        got.append(msg.data)

    await client.subscribe(subject, cb=keep)
    await client.flush()
    await publisher.publish(sent, b"someone else's")
    await publisher.flush()
    if expected:
        await eventually(lambda: got, within=10, what=f"a message on {subject}")
    else:
        await asyncio.sleep(SILENCE)
    return got
