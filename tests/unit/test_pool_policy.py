"""The pool's decisions (``launcher/pool_policy.py``) on plain values: when it grows, by how
much, when it shrinks and which children it drains, and how long a crashed child waits."""

from __future__ import annotations

from agentlist.launcher.pool_policy import (
    Child,
    Limits,
    Load,
    decide,
    default_maximum,
    idlest,
    initial_target,
    restart_pause,
)
from agentlist.launcher.supervisor import FIRST_PAUSE, LONGEST_PAUSE, STEADY_AFTER

LIMITS = Limits(minimum=1, maximum=4, capacity=10, cooldown=5.0)


def healthy(worker_id: str, inflight: int) -> Child:
    return Child(worker_id, "healthy", inflight)


def test_a_backlog_beyond_the_free_slots_grows_the_pool_by_what_it_fills() -> None:
    load = Load(pending=25, children=(healthy("a", 10),))
    decision = decide(LIMITS, load, target=1, calm_since=None, now=0.0)
    assert decision.target == 4  # 25 waiting, 0 free: three more children of 10
    assert decision.drain == () and decision.calm_since is None
    assert decision.reason == "backlog 25 > 0 free slots"


def test_growth_stops_at_the_maximum_and_says_so() -> None:
    load = Load(pending=190, children=(healthy("a", 10),))
    decision = decide(LIMITS, load, target=1, calm_since=None, now=0.0)
    assert decision.target == LIMITS.maximum
    assert decision.reason == "backlog 190 > 0 free slots (at the maximum)"


def test_children_still_starting_count_as_free_slots() -> None:
    """Reported every half second, a backlog must not start a child per report while the
    first ones load their graphs."""
    load = Load(pending=15, children=(healthy("a", 10), Child("b", "starting")))
    decision = decide(LIMITS, load, target=2, calm_since=None, now=0.0)
    assert decision.target == 3  # 15 > 10 free (b's): one more
    covered = Load(pending=8, children=(healthy("a", 10), Child("b", "starting")))
    assert decide(LIMITS, covered, target=2, calm_since=None, now=0.0).target == 2


def test_a_child_waiting_to_be_restarted_counts_as_coming() -> None:
    load = Load(pending=12, children=(healthy("a", 10),))
    decision = decide(LIMITS, load, target=2, calm_since=None, now=0.0)
    assert decision.target == 3  # 12 > 0 free + 10 coming: one more than the two asked for


def test_doubtful_and_draining_children_offer_no_slot() -> None:
    children = (Child("a", "unhealthy", 0), Child("b", "draining", 0), healthy("c", 9))
    decision = decide(LIMITS, Load(pending=2, children=children), 3, None, 0.0)
    assert decision.target == 4 and decision.reason == "backlog 2 > 1 free slots"


def test_a_backlog_the_free_slots_cover_changes_nothing() -> None:
    load = Load(pending=3, children=(healthy("a", 2), healthy("b", 5)))
    decision = decide(LIMITS, load, target=2, calm_since=12.0, now=20.0)
    assert (decision.target, decision.drain, decision.calm_since) == (2, (), None)


def test_without_an_answer_the_pool_keeps_its_size() -> None:
    decision = decide(LIMITS, None, target=3, calm_since=1.0, now=50.0)
    assert decision.target == 3 and decision.drain == ()
    assert decision.reason == "no answer from the registry: size kept"
    assert decide(LIMITS, None, target=0, calm_since=None, now=0.0).target == LIMITS.minimum


def test_the_pool_shrinks_only_after_the_cooldown_and_drains_the_idlest() -> None:
    children = (healthy("a", 3), healthy("b", 0), healthy("c", 1), healthy("d", 0))
    load = Load(pending=0, children=children)
    first = decide(LIMITS, load, target=4, calm_since=None, now=100.0)
    assert (first.target, first.drain, first.calm_since) == (4, (), 100.0)
    waiting = decide(LIMITS, load, target=4, calm_since=100.0, now=104.9)
    assert waiting.target == 4 and waiting.drain == ()
    shrunk = decide(LIMITS, load, target=4, calm_since=100.0, now=105.0)
    assert shrunk.target == 1  # 4 runs in flight fit one child of 10
    assert set(shrunk.drain) == {"b", "d", "c"}  # the busiest stays
    assert shrunk.calm_since == 105.0, "the next shrink waits a whole cooldown more"


def test_the_pool_keeps_the_children_its_runs_in_flight_need() -> None:
    children = (healthy("a", 10), healthy("b", 9), healthy("c", 0))
    load = Load(pending=0, children=children)
    decision = decide(LIMITS, load, target=3, calm_since=0.0, now=60.0)
    assert decision.target == 2 and decision.drain == ("c",)
    full = Load(pending=0, children=(healthy("a", 10), healthy("b", 10)))
    assert decide(LIMITS, full, target=2, calm_since=0.0, now=60.0).drain == ()


def test_never_below_the_minimum() -> None:
    limits = Limits(minimum=2, maximum=4, capacity=10, cooldown=1.0)
    children = (healthy("a", 0), healthy("b", 0), healthy("c", 0))
    decision = decide(limits, Load(0, children), target=3, calm_since=0.0, now=10.0)
    assert decision.target == 2 and len(decision.drain) == 1
    at_min = decide(limits, Load(0, children[:2]), target=2, calm_since=0.0, now=10.0)
    assert at_min.target == 2 and at_min.drain == ()


def test_scale_to_zero_and_back() -> None:
    limits = Limits(minimum=0, maximum=3, capacity=10, cooldown=1.0)
    assert initial_target(limits) == 1, "one child registers the graphs first"
    idle = decide(limits, Load(0, (healthy("a", 0),)), target=1, calm_since=0.0, now=2.0)
    assert idle.target == 0 and idle.drain == ("a",)
    woken = decide(limits, Load(pending=1, children=()), target=0, calm_since=2.0, now=9.0)
    assert woken.target == 1 and woken.reason == "backlog 1 > 0 free slots"


def test_idlest_puts_children_that_hold_nothing_first() -> None:
    children = (healthy("busy", 7), Child("new", "starting"), healthy("calm", 1))
    assert idlest(children, 2) == ("new", "calm")
    assert idlest(children, 0) == ()


def test_a_crashing_child_waits_longer_each_time_until_it_stays_up() -> None:
    assert restart_pause(None, uptime=0.1) == FIRST_PAUSE
    assert restart_pause(FIRST_PAUSE, uptime=0.1) == 2 * FIRST_PAUSE
    assert restart_pause(LONGEST_PAUSE, uptime=0.1) == LONGEST_PAUSE
    assert restart_pause(LONGEST_PAUSE, uptime=STEADY_AFTER) == FIRST_PAUSE


def test_the_default_maximum_is_a_worker_per_core_and_at_least_two() -> None:
    assert default_maximum(8) == 8
    assert default_maximum(1) == 2
    assert default_maximum(None) == 2


def test_the_pool_shrinks_only_once_its_children_joined() -> None:
    """At ``--min 0`` the first child must register the graphs before the pool lets it go."""
    limits = Limits(minimum=0, maximum=3, capacity=10, cooldown=1.0)
    load = Load(0, (Child("a", "starting"),))
    decision = decide(limits, load, target=1, calm_since=0.0, now=30.0)
    assert decision.target == 1 and decision.drain == ()
    assert decision.reason == "no backlog; 1 starting"
