"""Writes to a run's Redis streams through ``append.lua``: one script call per run and round."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

import orjson
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from agentlist.bridge.ordering import Verdict
from agentlist.contracts import streams

SCRIPT = "append.lua"


def load_script() -> str:
    return resources.files("agentlist.bridge").joinpath(SCRIPT).read_text()


class Target(enum.StrEnum):
    BOTH = "b"
    RUN = "r"
    THREAD = "t"
    END = "e"
    """The run's stream and its end stream (``streams.run_end_key``): the end entry."""


@dataclass(frozen=True, slots=True)
class Entry:
    target: Target
    event: str
    data: str
    """One line of JSON."""


@dataclass(frozen=True, slots=True)
class Write:
    """One message's entries, written only if it is its run's next (or forced) and carries
    its attempt's lease token."""

    attempt: int
    seq: int
    token: str = field(repr=False)
    """The lease token the message carries ("" for none)."""
    verified: bool = False
    """The run's row holds this attempt and token (checked by the bridge): required of a
    fence, and of a message written before its attempt's fence."""
    entries: Sequence[Entry] = ()


@dataclass(frozen=True, slots=True)
class RunWrites:
    """Messages of one run, in order, for one script call (their keys share a hash tag)."""

    thread_id: str
    run_id: str
    ttl: int
    """Expiry of the run's keys after a write, in seconds."""
    writes: Sequence[Write]

    def redis_keys(self) -> list[str]:
        return [
            streams.run_stream_key(self.thread_id, self.run_id),
            streams.run_cursor_key(self.thread_id, self.run_id),
            streams.thread_stream_key(self.thread_id),
            streams.run_end_key(self.thread_id, self.run_id),
        ]

    def args(self, mode: str, patience_ms: int) -> list[str | int | bytes]:
        # The messages travel as one JSON argument: packing a few arguments per call instead
        # of a dozen per message is most of the client's cost.
        messages = [
            [
                w.attempt,
                w.seq,
                w.token,
                w.verified,
                [[e.target.value, e.event, e.data] for e in w.entries],
            ]
            for w in self.writes
        ]
        return [
            mode,
            self.ttl,
            self.run_id,
            patience_ms,
            streams.FIELD_EVENT,
            streams.FIELD_DATA,
            streams.FIELD_RUN_ID,
            orjson.dumps(messages),
        ]


class StreamWriter:
    """Runs the script by its digest, loading it again when Redis lost it (a restart).

    ``gap_patience`` is how long (seconds) a run may wait for a missing message, making no
    progress, before the bridge gives that message up and writes the next one it has.
    """

    def __init__(self, redis: Redis, source: str, gap_patience: float) -> None:
        self._redis = redis
        self._source = source
        self._patience_ms = int(gap_patience * 1000)
        self._sha = ""

    async def check(self, run: RunWrites) -> list[Verdict]:
        """The verdicts the writes would get, writing nothing (but noting early messages)."""
        return (await self._run([run], "check"))[0]

    async def append(self, runs: Sequence[RunWrites]) -> list[list[Verdict]]:
        """One script call per run, all in one pipeline; Redis runs each atomically."""
        if not runs:
            return []
        return await self._run(runs, "append")

    async def _run(self, runs: Sequence[RunWrites], mode: str) -> list[list[Verdict]]:
        if not self._sha:
            self._sha = await self._redis.script_load(self._source)
        try:
            return await self._pipeline(runs, mode)
        except NoScriptError:
            # Every message is written at most once, so running the calls again is safe.
            self._sha = await self._redis.script_load(self._source)
            return await self._pipeline(runs, mode)

    async def _pipeline(self, runs: Sequence[RunWrites], mode: str) -> list[list[Verdict]]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for run in runs:
                keys = run.redis_keys()
                pipe.evalsha(self._sha, len(keys), *keys, *run.args(mode, self._patience_ms))
            results = await pipe.execute()
        return [[Verdict(_text(verdict)) for verdict in result] for result in results]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
