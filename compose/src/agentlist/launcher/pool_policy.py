"""How many workers a pool runs: pure decisions over what the registry last said of its load.

The pool (``pool.py``) reports every fraction of a second; each answer gives the pending runs
of its graphs and the state of each child the registry knows. From that, :func:`decide`
chooses the target size and which children to drain, and :func:`restart_pause` how long a
crashed child waits before it is started again. Nothing here does IO or reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from agentlist.launcher.supervisor import FIRST_PAUSE, LONGEST_PAUSE, STEADY_AFTER

ChildState = Literal["starting", "healthy", "unhealthy", "draining", "dead"]
"""``starting``: alive but not (yet) known to the registry; the rest are the registry's."""


@dataclass(frozen=True)
class Limits:
    minimum: int
    maximum: int
    capacity: int
    """Run slots of each child."""
    cooldown: float
    """Seconds with no backlog before the pool shrinks."""


@dataclass(frozen=True)
class Child:
    """A live child the pool has not asked to drain, as the registry last saw it."""

    worker_id: str
    state: ChildState
    inflight: int = 0

    def free(self, capacity: int) -> int:
        """Slots it will take runs on: a child still starting counts in full (it is on its
        way), one the registry doubts counts for nothing."""
        if self.state == "starting":
            return capacity
        if self.state == "healthy":
            return max(capacity - self.inflight, 0)
        return 0


@dataclass(frozen=True)
class Load:
    """The registry's answer, reduced to what the decision needs."""

    pending: int
    """Runs of the pool's graphs waiting for a worker."""
    children: tuple[Child, ...]


@dataclass(frozen=True)
class Decision:
    target: int
    reason: str
    drain: tuple[str, ...] = ()
    """Children to drain now (the idlest first)."""
    calm_since: float | None = None
    """Since when there has been no backlog (None: there is one)."""


def free_slots(children: Iterable[Child], capacity: int) -> int:
    return sum(child.free(capacity) for child in children)


def inflight(children: Iterable[Child]) -> int:
    return sum(child.inflight for child in children)


def clamp(size: int, limits: Limits) -> int:
    return max(limits.minimum, min(limits.maximum, size))


def default_maximum(cores: int | None) -> int:
    """One worker per core (``os.cpu_count()``), at least 2: a worker runs its graphs on one
    event loop, so more only helps graphs that mostly wait, which ``--max`` can say."""
    return max(cores or 1, 2)


def initial_target(limits: Limits) -> int:
    """At least one child at first, even with ``--min 0``: its registration makes the graphs
    known (a run for a graph no worker ever served is refused); the cooldown then takes the
    pool down to zero."""
    return clamp(max(limits.minimum, 1), limits)


def decide(
    limits: Limits, load: Load | None, target: int, calm_since: float | None, now: float
) -> Decision:
    """The next target for a pool whose target is ``target``, given the registry's ``load``
    (None: no answer, so the pool keeps its size and waits for one).

    It grows as soon as the backlog exceeds the free slots of its children (those still
    starting included), by as many children as the backlog fills. It shrinks only after
    ``cooldown`` seconds without a backlog, to the children its runs in flight need, draining
    the idlest ones.
    """
    if load is None:
        return Decision(clamp(target, limits), "no answer from the registry: size kept", (), None)
    children = load.children
    # Children the target already asked for but not started yet (a crashed one waiting out
    # its pause) will take runs too.
    coming = max(target - len(children), 0)
    free = free_slots(children, limits.capacity) + coming * limits.capacity
    if load.pending > free:
        wanted = len(children) + coming + math.ceil((load.pending - free) / limits.capacity)
        grown = clamp(wanted, limits)
        limit = " (at the maximum)" if wanted > limits.maximum else ""
        return Decision(grown, f"backlog {load.pending} > {free} free slots{limit}", (), None)
    if load.pending > 0:
        return Decision(clamp(target, limits), f"backlog {load.pending} fits {free} free slots")
    calm_since = now if calm_since is None else calm_since
    needed = clamp(math.ceil(inflight(children) / limits.capacity), limits)
    if needed >= len(children):
        return Decision(clamp(target, limits), "no backlog", (), calm_since)
    starting = sum(1 for child in children if child.state == "starting")
    if starting:
        # Each was started for a reason (the first registers the graphs, even at --min 0):
        # the pool shrinks once they joined.
        return Decision(clamp(target, limits), f"no backlog; {starting} starting", (), calm_since)
    if now - calm_since < limits.cooldown:
        return Decision(target, f"no backlog; shrinking after {limits.cooldown:g}s", (), calm_since)
    drained = idlest(children, len(children) - needed)
    reason = f"no backlog for {limits.cooldown:g}s; {inflight(children)} runs need {needed}"
    # The calm starts again: a further shrink waits a whole cooldown more.
    return Decision(needed, reason, drained, now)


def idlest(children: Sequence[Child], count: int) -> tuple[str, ...]:
    """The ``count`` children holding fewest runs: those still starting (they hold none) and
    the registry's doubtful ones first, then the least busy healthy ones."""
    order = {"starting": 0, "unhealthy": 0, "dead": 0, "draining": 1, "healthy": 1}
    ranked = sorted(children, key=lambda child: (order[child.state], child.inflight))
    return tuple(child.worker_id for child in ranked[: max(count, 0)])


def restart_pause(previous: float | None, uptime: float) -> float:
    """How long a child that crashed after ``uptime`` seconds waits before its replacement
    starts: the pauses of ``agentlist dev``'s supervisor, doubling while children keep
    failing (a graph that kills its process at import does not spin), reset by a steady run."""
    if previous is None or uptime >= STEADY_AFTER:
        return FIRST_PAUSE
    return min(previous * 2, LONGEST_PAUSE)
