"""``append.lua`` against a real Redis: the verdict for every message/cursor combination, and
what a written message leaves behind. Each attempt's messages carry its lease token (``token``):
a message of the cursor's attempt with another token waits for the run's row to vouch for it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from agentlist.bridge.ordering import Verdict
from agentlist.bridge.writer import Entry, RunWrites, StreamWriter, Target, Write, load_script
from agentlist.contracts import streams
from agentlist.launcher import Stack


@pytest_asyncio.fixture
async def redis(servers: Stack) -> AsyncIterator[Redis]:
    client = Redis.from_url(servers.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def writer(redis: Redis) -> StreamWriter:
    return StreamWriter(redis, load_script(), gap_patience=60)


@pytest.fixture
def run() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


async def fields(redis: Redis, key: str) -> list[dict[bytes, bytes]]:
    raw: Any = await redis.xrange(key)
    return [entry for _, entry in raw]


def token(attempt: int) -> str:
    """The lease token of each attempt, as its fence installed it."""
    return f"token-of-{attempt}"


# A message: (attempt, seq), optionally with the token it carries and whether the run's row
# vouched for it. By default, its attempt's token; a fence (seq 0) is vouched for, as the
# bridge hands over no other.
Message = tuple[int, int] | tuple[int, int, str] | tuple[int, int, str, bool]


def write_of(message: Message) -> Write:
    attempt, seq = message[0], message[1]
    carried = message[2] if len(message) > 2 else token(attempt)
    verified = message[3] if len(message) > 3 else seq == 0
    entries = [Entry(Target.BOTH, "values", f'{{"seq":{seq}}}')]
    return Write(attempt, seq, carried, verified, entries)


def calls(run: tuple[str, str], *messages: Message, ttl: int = 300) -> RunWrites:
    return RunWrites(run[0], run[1], ttl, [write_of(message) for message in messages])


async def append(writer: StreamWriter, run: tuple[str, str], *messages: Message) -> list[Verdict]:
    return (await writer.append([calls(run, *messages)]))[0]


async def cursor_of(redis: Redis, run: tuple[str, str]) -> dict[bytes, bytes]:
    found: Any = await redis.hgetall(streams.run_cursor_key(*run))
    return dict(found)


async def place_cursor(redis: Redis, run: tuple[str, str], attempt: int, seq: int) -> None:
    if attempt:
        mapping = {"attempt": attempt, "seq": seq, "token": token(attempt)}
        await redis.hset(streams.run_cursor_key(*run), mapping=mapping)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cursor", "message", "verdict"),
    [
        ((0, 0), (1, 0), Verdict.NEXT),  # the first attempt starts
        ((0, 0), (1, 1), Verdict.UNFENCED),  # its AttemptStarted is still on the way
        ((0, 0), (1, 1, token(1), True), Verdict.EARLY),  # the run's row vouched for it
        ((1, 4), (1, 5), Verdict.NEXT),
        ((1, 4), (1, 4), Verdict.DUPLICATE),
        ((1, 4), (1, 1), Verdict.DUPLICATE),
        ((1, 4), (1, 0), Verdict.DUPLICATE),
        ((1, 4), (1, 6), Verdict.EARLY),
        ((1, 4), (2, 0), Verdict.NEXT),  # a newer attempt fences the old one
        ((1, 4), (3, 0), Verdict.NEXT),
        ((1, 4), (2, 1), Verdict.UNFENCED),
        ((1, 4), (2, 1, token(2), True), Verdict.EARLY),
        ((2, 0), (1, 5), Verdict.STALE),
        ((2, 0), (1, 0), Verdict.STALE),
        ((2, 0), (2, 1), Verdict.NEXT),
        # Another token for the cursor's attempt: the run's row must be asked first (the
        # attempt may have been claimed again, its fence still with another bridge).
        ((1, 4), (1, 5, "guessed"), Verdict.UNFENCED),
        ((1, 4), (1, 5, ""), Verdict.UNFENCED),
        ((1, 4), (1, 6, "guessed"), Verdict.UNFENCED),  # not even noted as early
        ((1, 4), (1, 2, "guessed"), Verdict.UNFENCED),
        ((1, 4), (1, 1, "claimed-again", True), Verdict.EARLY),  # vouched: its fence comes
        # Forgeries: a fence the run's row did not vouch for.
        ((1, 4), (1, 0, "guessed", False), Verdict.FORGED),
        ((0, 0), (1, 0, token(1), False), Verdict.FORGED),
        ((1, 4), (2, 0, token(2), False), Verdict.FORGED),
        ((1, 4), (2, 0, "guessed", False), Verdict.FORGED),
        # A superseded attempt's own token is refused as stale, whatever it carries.
        ((2, 3), (1, 9, token(1)), Verdict.STALE),
    ],
)
async def test_verdicts(
    redis: Redis,
    writer: StreamWriter,
    run: tuple[str, str],
    cursor: tuple[int, int],
    message: Message,
    verdict: Verdict,
) -> None:
    await place_cursor(redis, run, *cursor)
    assert await writer.check(calls(run, message)) == [verdict]
    assert await append(writer, run, message) == [verdict]
    assert await redis.xlen(streams.run_stream_key(*run)) == (1 if verdict.written else 0)
    expected = message[:2] if verdict.written else cursor
    found = await cursor_of(redis, run)
    assert (int(found.get(b"attempt", 0)), int(found.get(b"seq", 0))) == expected
    if verdict in (Verdict.FORGED, Verdict.UNFENCED):
        assert b"gap_attempt" not in found  # a forgery leaves no mark that could be forced


async def test_a_fence_installs_its_token_for_the_attempts_messages(
    redis: Redis, writer: StreamWriter, run: tuple[str, str]
) -> None:
    assert await append(writer, run, (1, 0, "secret", True), (1, 1, "secret")) == [
        Verdict.NEXT,
        Verdict.NEXT,
    ]
    assert (await cursor_of(redis, run))[b"token"] == b"secret"
    assert await append(writer, run, (1, 2, token(1)), (1, 2, "secret")) == [
        Verdict.UNFENCED,
        Verdict.NEXT,
    ]


async def test_a_vouched_fence_of_the_same_attempt_takes_it_over(
    redis: Redis, writer: StreamWriter, run: tuple[str, str]
) -> None:
    """An attempt undone (its dispatch refused) and claimed again: same number, new token."""
    assert await append(writer, run, (1, 0, "first", True)) == [Verdict.NEXT]
    assert await append(writer, run, (1, 0, "second", False)) == [Verdict.FORGED]
    assert await append(writer, run, (1, 0, "second", True)) == [Verdict.DUPLICATE]
    assert await cursor_of(redis, run) == {b"attempt": b"1", b"seq": b"0", b"token": b"second"}
    assert await append(writer, run, (1, 1, "first"), (1, 1, "second")) == [
        Verdict.UNFENCED,
        Verdict.NEXT,
    ]
    assert await redis.xlen(streams.run_stream_key(*run)) == 2  # one metadata, one event


async def test_one_call_judges_its_messages_in_turn(
    redis: Redis, writer: StreamWriter, run: tuple[str, str]
) -> None:
    assert await append(writer, run, (1, 0), (1, 2), (1, 1), (1, 1), (1, 2)) == [
        Verdict.NEXT,
        Verdict.EARLY,
        Verdict.NEXT,
        Verdict.DUPLICATE,
        Verdict.NEXT,
    ]
    data = [f[b"data"] for f in await fields(redis, streams.run_stream_key(*run))]
    assert data == [b'{"seq":0}', b'{"seq":1}', b'{"seq":2}']


async def test_a_write_lands_on_both_streams_with_expiry(
    redis: Redis, writer: StreamWriter, run: tuple[str, str]
) -> None:
    entries = [
        Entry(Target.BOTH, "error", '{"error":"E","message":"m"}'),
        Entry(Target.END, streams.END_EVENT, '{"status":"error"}'),
        Entry(Target.THREAD, "metadata", '{"status":"run_done"}'),
    ]
    ending = RunWrites(run[0], run[1], 77, [Write(1, 0, token(1), True, entries)])
    assert await writer.append([ending]) == [[Verdict.NEXT]]
    assert await fields(redis, streams.run_stream_key(*run)) == [
        {b"event": b"error", b"data": b'{"error":"E","message":"m"}'},
        {b"event": b"__end__", b"data": b'{"status":"error"}'},
    ]
    assert await fields(redis, streams.thread_stream_key(run[0])) == [
        {b"event": b"error", b"data": b'{"error":"E","message":"m"}', b"run_id": run[1].encode()},
        {b"event": b"metadata", b"data": b'{"status":"run_done"}', b"run_id": run[1].encode()},
    ]
    # The end entry alone also lands on the run's end stream, which waiting clients block on.
    assert await fields(redis, streams.run_end_key(*run)) == [
        {b"event": b"__end__", b"data": b'{"status":"error"}'},
    ]
    for key in ending.redis_keys():
        assert 0 < await redis.ttl(key) <= 77


async def test_only_the_lowest_early_message_is_forced_past_a_gap(
    redis: Redis, run: tuple[str, str]
) -> None:
    impatient = StreamWriter(redis, load_script(), gap_patience=0)
    await place_cursor(redis, run, 1, 1)
    # seq 2 is lost; 4 then 3 arrive early and are noted, then tried again.
    assert await append(impatient, run, (1, 4), (1, 3)) == [Verdict.EARLY, Verdict.EARLY]
    assert await append(impatient, run, (1, 4), (1, 3)) == [Verdict.EARLY, Verdict.FORCED]
    assert await append(impatient, run, (1, 4), (1, 2)) == [Verdict.NEXT, Verdict.DUPLICATE]
    data = [f[b"data"] for f in await fields(redis, streams.run_stream_key(*run))]
    assert data == [b'{"seq":3}', b'{"seq":4}']
    assert await cursor_of(redis, run) == {
        b"attempt": b"1",
        b"seq": b"4",
        b"token": token(1).encode(),
    }  # no gap mark left


async def test_a_message_past_a_lost_fence_is_forced_only_once_vouched_for(
    redis: Redis, run: tuple[str, str]
) -> None:
    """Attempt 2's fence never reached this cursor (say Redis lost it): its messages are
    ``unfenced``, and leave no mark, until the bridge has checked their token against the
    run's row; then they wait for the fence like any early message, and are forced past it."""
    impatient = StreamWriter(redis, load_script(), gap_patience=0)
    await place_cursor(redis, run, 1, 3)
    assert await append(impatient, run, (2, 4), (2, 5)) == [Verdict.UNFENCED, Verdict.UNFENCED]
    assert b"gap_attempt" not in await cursor_of(redis, run)
    vouched = [(2, 4, token(2), True), (2, 5, token(2), True)]
    assert await append(impatient, run, *vouched) == [Verdict.EARLY, Verdict.EARLY]
    assert await append(impatient, run, *vouched) == [Verdict.FORCED, Verdict.NEXT]
    assert await cursor_of(redis, run) == {
        b"attempt": b"2",
        b"seq": b"5",
        b"token": token(2).encode(),
    }
    # Another token for attempt 2 now: the run's row must vouch for it first.
    assert await append(impatient, run, (2, 6, token(1))) == [Verdict.UNFENCED]


async def test_progress_restarts_the_wait_for_a_gap(redis: Redis, run: tuple[str, str]) -> None:
    writer = StreamWriter(redis, load_script(), gap_patience=0.3)
    # Time past the patience is the point: each pause outlasts it, however long it takes.
    assert await append(writer, run, (1, 0), (1, 3)) == [Verdict.NEXT, Verdict.EARLY]
    await asyncio.sleep(0.35)
    assert await append(writer, run, (1, 1), (1, 3)) == [Verdict.NEXT, Verdict.EARLY]
    await asyncio.sleep(0.35)
    assert await append(writer, run, (1, 3)) == [Verdict.FORCED]


async def test_runs_share_a_pipeline_and_survive_a_script_flush(
    redis: Redis, writer: StreamWriter
) -> None:
    runs = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(3)]
    assert await writer.append([calls(run, (1, 0)) for run in runs]) == [[Verdict.NEXT]] * 3
    await redis.script_flush()
    verdicts = await writer.append([calls(run, (1, 1), (1, 2)) for run in runs])
    assert verdicts == [[Verdict.NEXT, Verdict.NEXT]] * 3
