"""Keeping ``agentlist dev``'s services up: a process that exits is started again, after a
pause that grows while it keeps failing. A graph that crashes its worker costs one worker
restart (its runs resume on their next attempt, from their checkpoints), never the stack."""

from __future__ import annotations

from collections.abc import MutableSequence
from dataclasses import dataclass, field
from typing import Final

from agentlist.launcher.process import ChildProcess

FIRST_PAUSE: Final = 0.5
LONGEST_PAUSE: Final = 30.0
STEADY_AFTER: Final = 60.0
"""A process up this long has recovered: its next exit pauses only :data:`FIRST_PAUSE`."""


@dataclass
class _Record:
    pause: float = FIRST_PAUSE
    due: float | None = None
    """When the exited process starts again."""
    started: float = 0.0


@dataclass
class Supervisor:
    """Call :meth:`tick` often with the stack's services; it replaces the exited ones in the
    list, and says what it did, a line each."""

    records: dict[str, _Record] = field(default_factory=dict)

    def tick(self, services: MutableSequence[ChildProcess], now: float) -> list[str]:
        said: list[str] = []
        for index, child in enumerate(services):
            record = self.records.setdefault(child.name, _Record(started=now))
            if child.alive():
                if now - record.started >= STEADY_AFTER:
                    record.pause = FIRST_PAUSE
                continue
            if record.due is None:
                record.due = now + record.pause
                said.append(
                    f"{child.name} exited with {child.popen.returncode};"
                    f" starting it again in {record.pause:g}s"
                )
            elif now >= record.due:
                services[index] = child.respawn()
                said.append(f"{child.name} started again (pid {services[index].pid})")
                record.due, record.started = None, now
                record.pause = min(record.pause * 2, LONGEST_PAUSE)
        return said
