"""Redis Cluster readiness: the keys one script writes together live in one hash slot.

The bridge appends a run's messages with one script over the run's stream, its cursor and its
thread's stream (bridge/append.lua); a cluster refuses a script whose keys span slots
(CROSSSLOT). The keys carry the thread id as a hash tag (contracts/streams.py), so a run's
keys, and those of every run of the thread, share its slot. The slot is computed here as
Redis Cluster does, with no server: CRC16 (XMODEM) of the key's hash tag, modulo 16384.
"""

from __future__ import annotations

import uuid

from agentlist.contracts.streams import (
    run_cursor_key,
    run_end_key,
    run_stream_key,
    tenant_run_bucket_key,
    thread_stream_key,
)

SLOTS = 16384


def crc16(data: bytes) -> int:
    """CRC-16/XMODEM (polynomial 0x1021, initial value 0), Redis Cluster's key hash."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def hash_slot(key: str) -> int:
    """The slot of ``key``: only its hash tag is hashed, the text between the first ``{`` and
    the first ``}`` after it, when that text is not empty."""
    hashed = key
    start = key.find("{")
    if start != -1:
        end = key.find("}", start + 1)
        if end > start + 1:
            hashed = key[start + 1 : end]
    return crc16(hashed.encode()) % SLOTS


def test_the_slot_function_is_redis_clusters() -> None:
    """Known values from the Redis Cluster specification and redis-cli CLUSTER KEYSLOT."""
    assert crc16(b"123456789") == 0x31C3
    assert hash_slot("foo") == 12182
    assert hash_slot("{user1000}.following") == hash_slot("{user1000}.followers")
    assert hash_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % SLOTS  # an empty tag is no tag
    assert hash_slot("foo{{bar}}zap") == crc16(b"{bar") % SLOTS


def test_the_keys_of_a_run_share_one_slot() -> None:
    for _ in range(50):
        thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
        keys = [
            run_stream_key(thread_id, run_id),
            run_cursor_key(thread_id, run_id),
            thread_stream_key(thread_id),
            run_end_key(thread_id, run_id),
        ]
        assert len({hash_slot(key) for key in keys}) == 1, keys


def test_the_keys_of_every_run_of_a_thread_share_the_threads_slot() -> None:
    thread_id = str(uuid.uuid4())
    slot = hash_slot(thread_stream_key(thread_id))
    for _ in range(20):
        run_id = str(uuid.uuid4())
        assert hash_slot(run_stream_key(thread_id, run_id)) == slot
        assert hash_slot(run_cursor_key(thread_id, run_id)) == slot
        assert hash_slot(run_end_key(thread_id, run_id)) == slot


def test_threads_spread_over_the_slots() -> None:
    """The tag is the thread, not a constant: a cluster shares the threads among its nodes."""
    slots = {hash_slot(thread_stream_key(str(uuid.uuid4()))) for _ in range(200)}
    assert len(slots) > 150
    # A tenant's token bucket is one key, alone in its script: any slot will do.
    assert 0 <= hash_slot(tenant_run_bucket_key("acme")) < SLOTS
