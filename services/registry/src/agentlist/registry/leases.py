"""Answering a heartbeat: which held runs the worker still owns, lost, or must cancel."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agentlist.contracts.runs import RunCancel
from agentlist.contracts.workers import HeartbeatReply, HeldRun

RunKey = tuple[uuid.UUID, int]
HeldKey = tuple[RunKey, str | None]
"""A held run's key and the lease token its holder presents."""


@dataclass(frozen=True)
class WorkerView:
    """What Postgres says about a heartbeating worker and the runs it holds."""

    known: bool
    drain: bool = False
    owned: Mapping[RunKey, str | None] = field(default_factory=dict)
    """Held runs that are ``running`` on this worker with the held attempt, with their
    ``cancel_action``."""


def held_keys(held: Sequence[HeldRun]) -> list[HeldKey]:
    """The held runs Postgres can own (a run id that is not a UUID names no run), each with
    the lease token the worker presents for it."""
    return [(key, h.token) for h, key in ((h, run_key(h)) for h in held) if key is not None]


def run_key(held: HeldRun) -> RunKey | None:
    try:
        return uuid.UUID(held.run_id), held.attempt
    except ValueError:
        return None


def answer(held: Sequence[HeldRun], view: WorkerView) -> HeartbeatReply:
    """Revoked: every held run this worker does not own now (another attempt started, the run
    ended or went back to the queue). Cancels: owned runs with a cancel requested."""
    revoked: list[HeldRun] = []
    cancels: list[RunCancel] = []
    for run in held:
        key = run_key(run)
        if key is None or key not in view.owned:
            # The token stays with the worker: a reply may reach other ears than its sender's.
            revoked.append(HeldRun(run_id=run.run_id, attempt=run.attempt))
            continue
        action = view.owned[key]
        if action is not None:
            cancels.append(RunCancel.model_validate({"run_id": run.run_id, "action": action}))
    return HeartbeatReply(known=view.known, revoked=revoked, cancels=cancels, drain=view.drain)
