"""Pure rules of the bridge: what becomes of an early message, and the order of a batch.

The verdict itself (stale, duplicate, next, early, forced, forged, unfenced) is decided
atomically in ``append.lua``; this module holds what the Python side decides around it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class Verdict(enum.StrEnum):
    STALE = "stale"
    """From an attempt older than the run's newest: fenced off, dropped."""
    DUPLICATE = "duplicate"
    """Already written (a redelivery, or a republish under another message id)."""
    NEXT = "next"
    """The next message of the run, in order."""
    FORCED = "forced"
    """Written although messages before it never came: a hole in the stream."""
    EARLY = "early"
    """A message before it is still on its way: to be tried again later."""
    FORGED = "forged"
    """Not its attempt's lease token (or none): written by someone else, dropped."""
    UNFENCED = "unfenced"
    """Of an attempt whose fence this run's cursor has not seen (still on its way, or lost):
    its token is to be checked against the run's row before it is judged again."""

    @property
    def written(self) -> bool:
        return self in (Verdict.NEXT, Verdict.FORCED)


@dataclass(frozen=True, slots=True)
class EarlyPolicy:
    """What becomes of an early message: kept and retried here a while, then handed back to
    JetStream with a delay that grows with each delivery."""

    hold: float
    nak_delay: float
    max_nak_delay: float

    def keep(self, held_for: float) -> bool:
        return held_for < self.hold

    def delay(self, num_delivered: int) -> float:
        """Seconds before the next delivery: doubling from ``nak_delay`` up to the maximum."""
        exponent = min(max(num_delivered - 1, 0), 30)
        return float(min(self.nak_delay * 2**exponent, self.max_nak_delay))


@dataclass(frozen=True, slots=True)
class Position:
    """Where a message sits in its run: what the batch order needs to know of it."""

    run_id: str
    attempt: int
    seq: int
    is_outcome: bool


@dataclass(frozen=True, slots=True)
class Round:
    """Indices into a batch: ``events`` are written in one pipeline, then ``outcomes`` run."""

    events: list[int]
    outcomes: list[int]


def plan_rounds(positions: Sequence[Position]) -> list[Round]:
    """Order a fetched batch into rounds that keep each run's messages in ``(attempt, seq)``
    order: every round writes, per run, the messages up to its next outcome, then handles
    that outcome (Postgres first), so that nothing after an outcome overtakes it."""
    by_run: dict[str, list[int]] = {}
    for index, position in enumerate(positions):
        by_run.setdefault(position.run_id, []).append(index)
    queues = [
        sorted(indices, key=lambda i: (positions[i].attempt, positions[i].seq))
        for indices in by_run.values()
    ]
    rounds: list[Round] = []
    while any(queues):
        events: list[int] = []
        outcomes: list[int] = []
        for queue in queues:
            while queue and not positions[queue[0]].is_outcome:
                events.append(queue.pop(0))
            if queue:
                outcomes.append(queue.pop(0))
        rounds.append(Round(events, outcomes))
    return rounds
