from __future__ import annotations

import time
import uuid

from agentlist.contracts.ids import system_assistant_id, uuid7


def test_uuid7_has_version_variant_and_time_order() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert first.version == 7 and second.version == 7
    assert first.variant == uuid.RFC_4122
    assert first < second
    assert abs((first.int >> 80) - time.time_ns() // 1_000_000) < 5_000


def test_uuid7_is_unique() -> None:
    assert len({uuid7() for _ in range(10_000)}) == 10_000


def test_system_assistant_follows_the_uuid5_rule_clients_rely_on() -> None:
    namespace = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
    assert system_assistant_id("agent") == uuid.uuid5(namespace, "agent")
