"""The runs a worker holds: capacity, idempotent re-dispatch, and how a held run is stopped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from agentlist.contracts import CancelAction, HeldRun, RunDispatch

StopReason = Literal["interrupt", "rollback", "released"]


@dataclass
class ActiveRun:
    """One attempt this worker holds, from the accepted dispatch until its outcome is out."""

    dispatch: RunDispatch
    stop_reason: StopReason | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    reporting: bool = False
    """Its graph is done and its outcome is being published: it holds no slot any more."""

    @property
    def run_id(self) -> str:
        return self.dispatch.run_id

    @property
    def attempt(self) -> int:
        return self.dispatch.attempt

    def stop(self, reason: StopReason) -> None:
        """Ask the graph to stop; the attempt then reports the outcome for ``reason``. The
        first reason wins: a run already being handed back is not also rolled back."""
        if self.stop_reason is None:
            self.stop_reason = reason
            self.stopped.set()

    def revoke(self) -> None:
        """Another attempt owns the run now: stop at once and publish nothing more."""
        if self.task is not None:
            self.task.cancel()


@dataclass(frozen=True)
class Decision:
    accepted: bool
    reason: str | None = None
    start: bool = False
    """False for a repeated dispatch of an attempt already held."""
    supersedes: ActiveRun | None = None
    """An older attempt of the same run held here, to revoke before starting this one."""


@dataclass
class RunTable:
    capacity: int
    served: set[str] = field(default_factory=set)
    draining: bool = False
    _runs: dict[str, ActiveRun] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[ActiveRun]:
        return iter(list(self._runs.values()))

    def get(self, run_id: str) -> ActiveRun | None:
        return self._runs.get(run_id)

    def held(self) -> list[HeldRun]:
        return [
            HeldRun(run_id=run.run_id, attempt=run.attempt, token=run.dispatch.token)
            for run in self._runs.values()
        ]

    def decide(self, dispatch: RunDispatch) -> Decision:
        """Whether to take ``dispatch`` (protocol step 4)."""
        current = self._runs.get(dispatch.run_id)
        if current is not None and current.attempt == dispatch.attempt:
            return Decision(accepted=True)
        if current is not None and current.attempt > dispatch.attempt:
            return Decision(accepted=False, reason="a newer attempt of this run is held here")
        if self.draining:
            return Decision(accepted=False, reason="worker is draining")
        if dispatch.graph_id not in self.served:
            return Decision(accepted=False, reason=f"graph {dispatch.graph_id!r} is not served")
        if current is None and self.busy() >= self.capacity:
            return Decision(accepted=False, reason="worker is at capacity")
        return Decision(accepted=True, start=True, supersedes=current)

    def busy(self) -> int:
        """Slots taken: a run publishing its outcome is still held (its lease renewed until
        the outcome is stored) but no longer runs its graph. Counted busy, it would refuse the
        next run, which Postgres may already have given its slot once the outcome landed."""
        return sum(1 for run in self._runs.values() if not run.reporting)

    def hold(self, dispatch: RunDispatch) -> ActiveRun:
        run = ActiveRun(dispatch)
        self._runs[dispatch.run_id] = run
        return run

    def forget(self, run: ActiveRun) -> None:
        if self._runs.get(run.run_id) is run:
            del self._runs[run.run_id]

    def cancel(self, run_id: str, action: CancelAction) -> bool:
        run = self._runs.get(run_id)
        if run is None:
            return False
        run.stop(action)
        return True

    def revoke(self, held: HeldRun) -> bool:
        run = self._runs.get(held.run_id)
        if run is None or run.attempt != held.attempt:
            return False
        run.revoke()
        return True
