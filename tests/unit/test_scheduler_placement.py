"""Pure decisions of the scheduler: placement and what an expired lease becomes."""

from __future__ import annotations

import random
import uuid
from collections import Counter

from agentlist.contracts.runs import RunKwargs
from agentlist.scheduler.dispatch import to_dispatch
from agentlist.scheduler.leases import (
    FINISHER_ID,
    ExpiredLease,
    Extend,
    Finish,
    Requeue,
    decide,
    final_outcome,
    worker_lost,
)
from agentlist.scheduler.placement import (
    Candidate,
    WorkerLoad,
    choose_worker,
    free_slots_by_graph,
    place,
)
from agentlist.scheduler.queries import StartedRun


def worker(worker_id: str, capacity: int, inflight: int, *graphs: str) -> WorkerLoad:
    return WorkerLoad(worker_id, capacity, inflight, frozenset(graphs))


def rng(seed: int = 7) -> random.Random:
    return random.Random(seed)


def test_choose_worker_prefers_the_least_loaded_by_ratio() -> None:
    busy_big = worker("a", 10, 5, "g")  # 0.5
    light_small = worker("b", 2, 0, "g")  # 0.0
    assert choose_worker("g", [busy_big, light_small], rng()) == light_small
    less_loaded = worker("a", 10, 2, "g")  # 0.2
    assert choose_worker("g", [less_loaded, worker("b", 2, 1, "g")], rng()) == less_loaded


def test_choose_worker_only_considers_servers_of_the_graph_with_room() -> None:
    workers = [worker("a", 4, 0, "other"), worker("b", 1, 1, "g"), worker("c", 3, 2, "g")]
    assert choose_worker("g", workers, rng()) == workers[2]
    assert choose_worker("g", workers[:2], rng()) is None
    assert choose_worker("missing", workers, rng()) is None


def test_choose_worker_breaks_ties_at_random_not_by_id() -> None:
    """A worker that names itself ``aaa-...`` wins no more ties than any other."""
    tied = [worker("aaa-evil", 2, 0, "g"), worker("m", 4, 0, "g"), worker("z", 2, 0, "g")]
    draws = rng()
    wins: Counter[str] = Counter()
    for _ in range(3000):
        chosen = choose_worker("g", tied, draws)
        assert chosen is not None
        wins[chosen.worker_id] += 1
    assert set(wins) == {"aaa-evil", "m", "z"}
    assert all(800 < count < 1200 for count in wins.values()), wins


def test_choose_worker_ties_only_among_the_least_loaded() -> None:
    loaded = worker("a", 2, 1, "g")  # 0.5
    idle = [worker("b", 2, 0, "g"), worker("c", 3, 0, "g")]
    for seed in range(50):
        assert choose_worker("g", [loaded, *idle], rng(seed)) in idle
    # Same load ratio: fewer runs in flight wins before any draw.
    fewer = worker("d", 2, 1, "g")
    assert choose_worker("g", [worker("e", 4, 2, "g"), fewer], rng()) == fewer


def test_choose_worker_draws_the_same_for_a_seed_whatever_the_order() -> None:
    tied = [worker(name, 1, 0, "g") for name in "pqrs"]
    chosen = {
        choose_worker("g", order, rng(3)) for order in (tied, tied[::-1], tied[1:] + tied[:1])
    }
    assert len(chosen) == 1


def test_place_never_exceeds_capacity_and_spreads_load() -> None:
    workers = [worker("a", 2, 1, "g"), worker("b", 2, 0, "g", "h")]
    candidates = [Candidate(uuid.uuid4(), "g") for _ in range(5)]
    placed = place(candidates, workers, rng())
    assert len(placed) == 3  # 1 free on a, 2 on b
    assert sorted(placed.values()) == ["a", "b", "b"]
    assert list(placed) == [c.run_id for c in candidates[:3]]  # in the given order


def test_place_skips_runs_without_a_server_and_keeps_going() -> None:
    workers = [worker("a", 1, 0, "g"), worker("b", 1, 0, "h")]
    first, second, third = (
        Candidate(uuid.uuid4(), "g"),
        Candidate(uuid.uuid4(), "g"),
        Candidate(uuid.uuid4(), "h"),
    )
    assert place([first, second, third], workers, rng()) == {first.run_id: "a", third.run_id: "b"}


def test_free_slots_by_graph_counts_shared_workers_for_each_graph() -> None:
    workers = [worker("a", 3, 1, "g", "h"), worker("b", 1, 1, "g"), worker("c", 2, 0, "h")]
    assert free_slots_by_graph(workers) == {"g": 2, "h": 4}


def lease(attempt: int, worker_id: str | None = "w", cancel: str | None = None) -> ExpiredLease:
    return ExpiredLease(uuid.uuid4(), uuid.uuid4(), attempt, worker_id, cancel, None)


def test_expired_lease_is_retried_until_max_attempts() -> None:
    assert decide(lease(1), 3) == Requeue()
    assert decide(lease(2), 3) == Requeue()
    assert decide(lease(3), 3) == Finish(attempt=4, error=worker_lost(3))


def test_expired_lease_of_a_reported_attempt_waits_for_the_bridge() -> None:
    assert decide(lease(1), 3, reported=True) == Extend()
    assert decide(lease(3, cancel="interrupt"), 3, reported=True) == Extend()


def test_expired_lease_with_a_cancel_pending_is_ended_not_retried() -> None:
    assert decide(lease(1, cancel="interrupt"), 3) == Finish(attempt=2, error=None)


def test_finisher_lease_republishes_the_same_attempt() -> None:
    stored = worker_lost(3)
    expired = ExpiredLease(
        uuid.uuid4(), uuid.uuid4(), 4, FINISHER_ID, None, stored.model_dump(mode="json")
    )
    assert decide(expired, 3) == Finish(attempt=4, error=stored)


def test_final_outcome_statuses() -> None:
    run_id, thread_id = uuid.uuid4(), uuid.uuid4()
    error = final_outcome(run_id, thread_id, 4, None, worker_lost(3), {"x": 1}, "tok")
    assert (error.status, error.seq, error.attempt, error.values) == ("error", 1, 4, {"x": 1})
    assert error.error is not None and error.error.error == "WorkerLost"
    assert error.token == "tok"
    cancelled = final_outcome(run_id, thread_id, 2, "interrupt", None, None, "tok")
    assert cancelled.status == "interrupted"
    assert final_outcome(run_id, thread_id, 2, "rollback", None, None, "tok").status == "rollback"


def test_dispatch_is_built_from_the_row() -> None:
    kwargs = RunKwargs(input={"a": 1}, stream_mode=["values", "updates"])
    run = StartedRun(
        run_id=uuid.uuid4(),
        thread_id=uuid.uuid4(),
        assistant_id=uuid.uuid4(),
        graph_id="g",
        tenant_id="t",
        attempt=2,
        worker_id="w",
        team="default",
        kwargs=kwargs.model_dump(mode="json"),
        lease_token="secret-of-attempt-2",
    )
    dispatch = to_dispatch(run)
    assert dispatch.params == kwargs
    assert dispatch.token == "secret-of-attempt-2"
    assert "secret-of-attempt-2" not in repr(run) + repr(dispatch)
    assert dispatch.resume_from_checkpoint is True
    assert dispatch.run_id == str(run.run_id)
