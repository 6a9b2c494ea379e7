"""Where each claimed run goes: pure decisions over a snapshot of the workers' load."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class WorkerLoad:
    """A healthy worker as the claim transaction sees it."""

    worker_id: str
    capacity: int
    inflight: int
    graphs: frozenset[str]

    @property
    def free(self) -> int:
        return max(self.capacity - self.inflight, 0)

    @property
    def load(self) -> float:
        return self.inflight / self.capacity


@dataclass(frozen=True)
class Candidate:
    """A pending run that may be placed, in the order it should be considered."""

    run_id: UUID
    graph_id: str


def choose_worker(
    graph_id: str, workers: Iterable[WorkerLoad], rng: random.Random
) -> WorkerLoad | None:
    """The least loaded worker (in-flight / capacity) serving ``graph_id`` with a free slot.

    Ties go to the worker with fewer runs, then to one of the equally loaded drawn by ``rng``:
    never by id, which a newcomer could choose so as to win every tie (and every run).
    """
    serving = [w for w in workers if graph_id in w.graphs and w.free > 0]
    if not serving:
        return None
    least = min((w.load, w.inflight) for w in serving)
    # Sorted first, so that a seeded ``rng`` draws the same worker whatever the input order.
    tied = sorted((w for w in serving if (w.load, w.inflight) == least), key=_worker_id)
    return tied[0] if len(tied) == 1 else rng.choice(tied)


def _worker_id(worker: WorkerLoad) -> str:
    return worker.worker_id


def free_slots_by_graph(workers: Iterable[WorkerLoad]) -> dict[str, int]:
    """Free slots of the workers serving each graph: an upper bound on what one claim can
    place for that graph (a worker serving two graphs counts for both)."""
    free: dict[str, int] = {}
    for worker in workers:
        for graph_id in worker.graphs:
            free[graph_id] = free.get(graph_id, 0) + worker.free
    return {graph_id: slots for graph_id, slots in free.items() if slots > 0}


def place(
    candidates: Sequence[Candidate], workers: Iterable[WorkerLoad], rng: random.Random
) -> dict[UUID, str]:
    """Assign candidates, in order, to workers; a run no worker has room for stays pending.

    Never places more runs on a worker than its free capacity. ``rng`` breaks ties.
    """
    loads = {w.worker_id: w for w in workers}
    placed: dict[UUID, str] = {}
    for candidate in candidates:
        worker = choose_worker(candidate.graph_id, loads.values(), rng)
        if worker is None:
            continue
        placed[candidate.run_id] = worker.worker_id
        loads[worker.worker_id] = dataclasses.replace(worker, inflight=worker.inflight + 1)
    return placed
