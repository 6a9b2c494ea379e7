"""Identifiers: time-ordered UUIDv7 for threads and runs, as langgraph-api mints them."""

from __future__ import annotations

import secrets
import time
import uuid

SYSTEM_ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def uuid7() -> uuid.UUID:
    """A RFC 9562 version 7 UUID: 48 bits of Unix milliseconds, then random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 68) << 64 & (0xFFF << 64)  # rand_a (12 bits)
    value |= 0b10 << 62  # variant
    value |= rand & ((1 << 62) - 1)  # rand_b
    return uuid.UUID(int=value)


def system_assistant_id(graph_id: str) -> uuid.UUID:
    """The id of a graph's system assistant, the rule langgraph-api clients rely on."""
    return uuid.uuid5(SYSTEM_ASSISTANT_NAMESPACE, graph_id)


SYSTEM_TENANT = "__system__"
"""The tenant of system assistants (one per registered graph): every tenant sees them, so
assistant reads filter on ``tenant_id IN ($tenant, SYSTEM_TENANT)``."""
