"""From a JetStream message to the stream entries it becomes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson
from nats.aio.msg import Msg

from agentlist.bridge import outcomes
from agentlist.bridge.ordering import Position
from agentlist.bridge.writer import Entry, Target, Write
from agentlist.contracts import streams
from agentlist.contracts.events import RUN_MESSAGE, AttemptStarted, RunEvent, RunOutcome

RunMessage = AttemptStarted | RunEvent | RunOutcome

METADATA_EVENT = "metadata"
ERROR_EVENT = "error"


@dataclass(slots=True)
class Inbound:
    """A fetched message, and what this bridge has done with it so far."""

    msg: Msg
    message: RunMessage
    delivered: int
    """How many times JetStream has delivered it, this time included."""
    settled: bool = False
    """Acknowledged, nak'd or terminated: JetStream has been told what became of it."""
    held_since: float | None = None
    """When it was first found early at this bridge (monotonic seconds)."""
    verified: bool = False
    """Its attempt and lease token are the run row's (see :mod:`agentlist.bridge.fences`)."""
    unfenced: bool = False
    """Found ``unfenced``: to be verified before it is tried again."""

    @property
    def needs_check(self) -> bool:
        """Whether the run's row must vouch for it before it is written: always for a fence,
        which installs its token, and for a message of an attempt whose fence was not seen."""
        if self.verified:
            return False
        return self.unfenced or isinstance(self.message, AttemptStarted)

    @property
    def position(self) -> Position:
        message = self.message
        return Position(
            message.run_id, message.attempt, message.seq, isinstance(message, RunOutcome)
        )


def decode(msg: Msg) -> RunMessage:
    """Raises ``pydantic.ValidationError`` for a payload no contract reads."""
    return RUN_MESSAGE.validate_json(msg.data)


def dump_json(value: Any) -> str:
    """One line of JSON; integers beyond 64 bits (valid JSON, refused by orjson) still pass."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))


def event_write(message: AttemptStarted | RunEvent, *, verified: bool = False) -> Write:
    if isinstance(message, AttemptStarted):
        data = dump_json(outcomes.attempt_event(message.run_id, message.attempt))
        entry = Entry(Target.BOTH, METADATA_EVENT, data)
    else:
        entry = Entry(Target.BOTH, message.event, dump_json(message.data))
    return Write(message.attempt, message.seq, message.token or "", verified, [entry])


def outcome_write(outcome: RunOutcome, *, verified: bool = False) -> Write:
    """The entries that end a run: an ``error`` event for failures, the end entry, and the
    thread stream's ``run_done``. A released run is not over: it only moves the cursor."""
    entries: list[Entry] = []
    if outcomes.ends_run(outcome):
        error = outcomes.failure(outcome)
        if error is not None:
            entries.append(Entry(Target.BOTH, ERROR_EVENT, dump_json(outcomes.error_event(error))))
        end = outcomes.stream_end(outcome).model_dump_json()
        entries.append(Entry(Target.END, streams.END_EVENT, end))
        done = dump_json(outcomes.run_done_event(outcome.run_id))
        entries.append(Entry(Target.THREAD, METADATA_EVENT, done))
    return Write(outcome.attempt, outcome.seq, outcome.token or "", verified, entries)
