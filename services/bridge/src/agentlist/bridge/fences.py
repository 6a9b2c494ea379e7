"""Whether the run's row vouches for a message: pure rules, and how a refused one is described.

An attempt's fence (``AttemptStarted``) tells the bridge which lease token the attempt's
messages carry, so the fence itself must be believed only when the run's row holds that
attempt, that token and that thread: anyone on the bus can publish a fence. The same check lets
a message be written before its attempt's fence, when the fence was lost to this run's cursor.
"""

from __future__ import annotations

import enum
import hmac
import uuid
from dataclasses import dataclass, field
from typing import Any

from nats.aio.msg import Msg

from agentlist.contracts.events import AttemptStarted, RunEvent, RunOutcome


@dataclass(frozen=True)
class RowFence:
    """What the run's row says of the attempt that holds the run."""

    thread_id: str
    attempt: int
    lease_token: str | None = field(repr=False)


class Vouched(enum.Enum):
    YES = "yes"
    STALE = "stale"
    """Of an attempt older than the row's: superseded, or a forgery of one; either way over."""
    FORGED = "forged"
    """No such run, another thread, an attempt the row does not hold, or the wrong token."""


def run_uuid(run_id: str) -> uuid.UUID | None:
    """The run id as Postgres keys it; None for a string no run can have."""
    try:
        return uuid.UUID(run_id)
    except ValueError:
        return None


def vouch(message: AttemptStarted | RunEvent | RunOutcome, row: RowFence | None) -> Vouched:
    if row is None:
        return Vouched.FORGED
    if message.attempt < row.attempt:
        return Vouched.STALE
    if message.attempt != row.attempt or message.thread_id != row.thread_id:
        return Vouched.FORGED
    if not same_token(message.token, row.lease_token):
        return Vouched.FORGED
    return Vouched.YES


def same_token(carried: str | None, held: str | None) -> bool:
    """In constant time: how much of a token matches is nobody's business."""
    if not carried or not held:
        return False
    return hmac.compare_digest(carried.encode(), held.encode())


def sender(msg: Msg) -> dict[str, Any]:
    """What is known of who published ``msg``, for the log: where and how it came, never its
    payload (which holds the token it carried)."""
    known: dict[str, Any] = {"subject": msg.subject, "stream_seq": msg.metadata.sequence.stream}
    if msg.headers:
        known["headers"] = dict(msg.headers)
    return known
