from __future__ import annotations

from agentlist.shared.loops import Backoff


def test_backoff_doubles_up_to_its_most_and_resets() -> None:
    backoff = Backoff(first=0.1, most=0.5)
    assert [backoff.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1
