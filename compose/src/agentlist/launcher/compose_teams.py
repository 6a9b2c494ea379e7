"""Worker teams of the Compose deployment (``agentlist credentials worker --compose DIR``).

Compose's NATS users are ``DIR/nats-users.conf``, rendered from the contracts and the teams of
``DIR/teams.json``; each password is a variable of the nats container. A team's lives in
``DIR/nats-teams.env``, which only the nats service reads, and in ``DIR/worker-<team>.env``,
the ``NATS_URL`` its workers join the Compose network with (both mode 0600). The registry
reads ``teams.json``, mounted read-only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from agentlist.contracts.access import (
    TEAMS_FILE,
    nats_authorization_from_env,
    parse_teams,
    team_password_variable,
    team_user,
)
from agentlist.launcher.identities import new_secret, write_secret

USERS_FILE: Final = "nats-users.conf"
TEAM_PASSWORDS_FILE: Final = "nats-teams.env"
_HEADER: Final = (
    "# Generated from contracts/access.py (NATS_PERMISSIONS) and teams.json by"
    " `agentlist credentials worker --compose`;\n"
    "# tests/unit/test_compose.py holds it equal. Each password comes from the nats"
    " container's environment\n"
    "# (see docker-compose.yml; a team's from nats-teams.env).\n"
)


def nats_users(teams: dict[str, list[str]]) -> str:
    """The text of :data:`USERS_FILE` for these teams."""
    return _HEADER + nats_authorization_from_env(teams) + "\n"


def read_teams(folder: Path) -> dict[str, list[str]]:
    path = folder / TEAMS_FILE
    return parse_teams(path.read_text()) if path.exists() else {}


def add_team(folder: Path, team: str, graphs: list[str], *, rotate: bool = False) -> list[str]:
    """Grant ``team`` ``graphs`` in the Compose deployment of ``folder``; returns what to tell
    the operator, one line each."""
    teams = {**read_teams(folder), team: graphs}
    passwords = _read_env(folder / TEAM_PASSWORDS_FILE)
    variable = team_password_variable(team)
    if rotate or variable not in passwords:
        passwords[variable] = new_secret()
    write_secret(folder / TEAM_PASSWORDS_FILE, "".join(f"{k}={v}\n" for k, v in passwords.items()))
    (folder / TEAMS_FILE).write_text(json.dumps(teams, indent=2) + "\n")
    (folder / USERS_FILE).write_text(nats_users(teams))
    env_file = folder / f"{team_user(team)}.env"
    url = f"nats://{team_user(team)}:{passwords[variable]}@nats:4222"
    write_secret(env_file, f"NATS_URL={url}\n")
    return [
        f"team {team} may serve: {', '.join(graphs)}",
        "apply it: docker compose up -d nats registry",
        f"its workers join the Compose network with --env-file {env_file}",
    ]


def _read_env(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}
