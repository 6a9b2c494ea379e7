"""The bridge's pure ordering rules: gap patience, nak delays and the order of a batch."""

from __future__ import annotations

from agentlist.bridge.ordering import EarlyPolicy, Position, Round, Verdict, plan_rounds
from agentlist.bridge.settings import BridgeSettings

POLICY = EarlyPolicy(hold=0.5, nak_delay=0.05, max_nak_delay=1.0)


def test_only_next_and_forced_are_written() -> None:
    assert {v for v in Verdict if v.written} == {Verdict.NEXT, Verdict.FORCED}


def test_an_early_message_is_kept_for_the_hold_time() -> None:
    assert POLICY.keep(0.0) and POLICY.keep(0.49)
    assert not POLICY.keep(0.5)


def test_nak_delay_doubles_up_to_the_maximum() -> None:
    delays = [POLICY.delay(n) for n in range(1, 8)]
    assert delays == [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert POLICY.delay(10**6) == 1.0


def test_early_messages_are_held_longer_than_a_handed_back_one_is_away() -> None:
    # Then the messages of a run stuck behind a dead bridge are all here at once when its
    # missing message comes back; but never held until JetStream delivers them again.
    settings = BridgeSettings()
    assert settings.early_hold_seconds >= 2 * settings.max_nak_delay_seconds
    assert settings.early_hold_seconds < settings.ack_wait_seconds
    assert BridgeSettings(ack_wait_seconds=2).early_hold_seconds < 2


def test_default_gap_patience_outlasts_the_ack_wait() -> None:
    # A message held by a frozen bridge comes back after ack_wait: the run must wait longer
    # than that before the bridge gives the message up.
    settings = BridgeSettings()
    assert settings.gap_patience_seconds > 2 * settings.ack_wait_seconds


def event(run: str, attempt: int, seq: int) -> Position:
    return Position(run, attempt, seq, is_outcome=False)


def outcome(run: str, attempt: int, seq: int) -> Position:
    return Position(run, attempt, seq, is_outcome=True)


def test_a_batch_without_outcomes_is_one_round_in_run_order() -> None:
    batch = [event("a", 1, 2), event("b", 1, 1), event("a", 1, 1), event("a", 1, 0)]
    assert plan_rounds(batch) == [Round(events=[3, 2, 0, 1], outcomes=[])]


def test_an_outcome_waits_for_its_events_and_nothing_overtakes_it() -> None:
    batch = [
        event("a", 2, 0),  # the next attempt's start, after attempt 1's outcome
        outcome("a", 1, 3),
        event("a", 1, 2),
        event("b", 1, 1),
        outcome("b", 1, 2),
        event("a", 2, 1),
    ]
    assert plan_rounds(batch) == [
        Round(events=[2, 3], outcomes=[1, 4]),
        Round(events=[0, 5], outcomes=[]),
    ]


def test_an_empty_batch_has_no_rounds() -> None:
    assert plan_rounds([]) == []


def test_duplicates_keep_their_fetch_order() -> None:
    batch = [event("a", 1, 1), event("a", 1, 1), outcome("a", 1, 2), outcome("a", 1, 2)]
    assert plan_rounds(batch) == [
        Round(events=[0, 1], outcomes=[2]),
        Round(events=[], outcomes=[3]),
    ]
