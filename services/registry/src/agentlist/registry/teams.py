"""Which graphs each worker team may serve: the deployment's teams file, read again when it
changes, so that a team added while the registry runs may register at once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agentlist.contracts.access import DEFAULT_TEAM, parse_teams
from agentlist.contracts.workers import GraphInfo

logger = logging.getLogger(__name__)


@dataclass
class TeamGrants:
    """``path``: the teams file (None: the default team is the only one)."""

    path: Path | None
    _teams: dict[str, list[str]] = field(default_factory=dict)
    _read_at: float | None = None

    def refused(self, team: str, graphs: Iterable[GraphInfo]) -> dict[str, str]:
        """The graphs ``team`` may not serve, with the reason. The default team (the stack's
        own ``worker`` credentials) may serve any."""
        if team == DEFAULT_TEAM:
            return {}
        granted = self._current().get(team)
        if granted is None:
            return {g.graph_id: f"team {team!r} is not in the teams file" for g in graphs}
        return {
            g.graph_id: f"team {team!r} may not serve graph {g.graph_id!r}"
            for g in graphs
            if g.graph_id not in granted
        }

    def granted(self, team: str, graph_ids: Iterable[str]) -> list[str]:
        """Those of ``graph_ids`` that ``team`` may serve, in order, once each."""
        wanted = list(dict.fromkeys(graph_ids))
        if team == DEFAULT_TEAM:
            return wanted
        allowed = set(self._current().get(team, ()))
        return [graph_id for graph_id in wanted if graph_id in allowed]

    def _current(self) -> dict[str, list[str]]:
        if self.path is None:
            return {}
        try:
            modified = self.path.stat().st_mtime
            if modified != self._read_at:
                self._teams = parse_teams(self.path.read_text())
                self._read_at = modified
        except FileNotFoundError:
            self._teams, self._read_at = {}, None
        except (OSError, ValueError) as exc:
            # The last good file stays in force: a bad edit does not lock every team out.
            logger.error("teams file %s unreadable, keeping the last one read: %s", self.path, exc)
        return self._teams
