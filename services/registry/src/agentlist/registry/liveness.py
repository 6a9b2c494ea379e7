"""Whether a worker is alive, judged from how long it has been silent (by Postgres' clock).

A heartbeat keeps a worker ``healthy``. Silent for ``suspect_after`` seconds, it is pinged on
its control subject; unanswered, it becomes ``unhealthy`` (the scheduler places nothing on
it). Silent for ``dead_after`` seconds, it is ``dead``, whatever it answers: a worker whose
heartbeats do not arrive cannot renew its runs' leases, and must register again. Silent for
``forget_after`` seconds, a dead worker's record is deleted (one that comes back registers anew).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    FINE = "fine"
    """Nothing to do."""
    SUSPECT = "suspect"
    """Ping it; ``unhealthy`` if it does not answer."""
    DEAD = "dead"


@dataclass(frozen=True)
class Thresholds:
    suspect_after: float
    dead_after: float
    forget_after: float = 600.0


def judge(state: str, silence: float, thresholds: Thresholds) -> Verdict:
    """What to do about a worker in ``state`` that has been silent for ``silence`` seconds."""
    if state == "dead":
        return Verdict.FINE
    if silence >= thresholds.dead_after:
        return Verdict.DEAD
    # A draining worker gets no new runs already, and one that finished draining has exited:
    # it stays ``draining`` until it is dead, never ``unhealthy``.
    if silence >= thresholds.suspect_after and state == "healthy":
        return Verdict.SUSPECT
    return Verdict.FINE


def state_after_ping(answered: bool) -> str | None:
    """The state a suspect worker moves to (None: it stays as it is until it heartbeats)."""
    return None if answered else "unhealthy"


def state_on_heartbeat(draining: bool, drain_requested: bool) -> str:
    return "draining" if draining or drain_requested else "healthy"
