"""Who each process is to the servers the launcher starts: a user and a password per role.

The launcher's NATS and Redis accept no anonymous client. Each service connects as its role
(``api``, ``scheduler``, ``registry``, ``bridge``, ``worker``), which the server lets do only
what that role needs; ``admin`` is the operator's and the tests' own, allowed everything.

Passwords are made once per data folder and kept in ``credentials.json`` there (mode 0600), so
a restarted server, a restarted stack and a process joining from another terminal agree on
them. Rotating them is deleting the file while the stack is stopped.

Worker teams (``agentlist credentials worker --team T --graphs a,b``) add a user
``worker-T`` each: its password joins the others in ``credentials.json``, its graphs go to
``teams.json`` beside it (no secret there), which the registry reads.

Postgres has a login role per service too (:data:`agentlist.contracts.access.POSTGRES_ROLES`),
with passwords of their own kept in the same file (its ``postgres`` entry); the superuser
``postgres``, who migrates, has the ``admin`` password.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args
from urllib.parse import quote, urlsplit, urlunsplit

from agentlist.contracts.access import POSTGRES_ROLES, TEAMS_FILE, parse_teams, team_user

Role = Literal["admin", "api", "scheduler", "registry", "bridge", "worker"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
SERVICE_ROLES: Final[Mapping[str, Role]] = {
    "api": "api",
    "scheduler": "scheduler",
    "registry": "registry",
    "bridge": "bridge",
    "worker": "worker",
    "pool": "worker",
}
"""The role each kind of process runs as (JavaScript workers too are ``worker``; a pool, which
passes its credentials to its workers, as well)."""
FILE_NAME: Final = "credentials.json"
POSTGRES_ENTRY: Final = "postgres"
"""The entry of :data:`FILE_NAME` holding the service roles' Postgres passwords."""


@dataclass(frozen=True)
class Identities:
    passwords: Mapping[str, str]
    """Each role's password, and each worker team's (under its user, ``worker-<team>``)."""
    teams: Mapping[str, list[str]] = field(default_factory=dict)
    """Each worker team's graphs."""
    postgres: Mapping[str, str] = field(default_factory=dict)
    """Each service role's Postgres password (see :func:`postgres_passwords`)."""

    @classmethod
    def load_or_create(cls, folder: Path) -> Identities:
        """The folder's credentials, made (readable by this user only) on first use."""
        path = folder / FILE_NAME
        teams = read_teams(folder)
        if path.exists():
            stored = {
                user: str(password)
                for user, password in json.loads(path.read_text()).items()
                if user != POSTGRES_ENTRY
            }
            if set(stored) >= set(ROLES):
                teams = {t: g for t, g in teams.items() if team_user(t) in stored}
                return cls(stored, teams, postgres_passwords(path))
        made: dict[str, str] = {role: new_secret() for role in ROLES}
        write_secret(path, json.dumps(made, indent=2))
        return cls(made, {}, postgres_passwords(path))

    def url_as(self, url: str, role: Role) -> str:
        """``url`` (any user in it or none) with ``role``'s user and password."""
        return with_user(url, role, self.passwords[role])

    def url_as_team(self, url: str, team: str) -> str:
        """``url`` with the user and password of ``team``'s workers."""
        user = team_user(team)
        return with_user(url, user, self.passwords[user])

    def with_team(self, folder: Path, team: str, graphs: list[str]) -> Identities:
        """These identities and ``team``, allowed ``graphs`` (its password kept if it has
        one), written to ``folder``."""
        user = team_user(team)
        passwords = {**self.passwords, user: self.passwords.get(user) or new_secret()}
        teams = {**self.teams, team: graphs}
        stored = {**passwords, POSTGRES_ENTRY: dict(self.postgres)}
        write_secret(folder / FILE_NAME, json.dumps(stored, indent=2))
        (folder / TEAMS_FILE).write_text(json.dumps(teams, indent=2) + "\n")
        return Identities(passwords, teams, self.postgres)

    def without_password(self, user: str) -> Identities:
        """These identities less ``user``'s password, to make a new one."""
        passwords = {name: p for name, p in self.passwords.items() if name != user}
        return Identities(passwords, self.teams, self.postgres)


def read_teams(folder: Path) -> dict[str, list[str]]:
    """The teams of ``folder``'s :data:`TEAMS_FILE` (none if it has none)."""
    path = folder / TEAMS_FILE
    return parse_teams(path.read_text()) if path.exists() else {}


def new_secret() -> str:
    """32 random bytes, URL-safe, starting with a letter: nats-server parses a variable's value
    as it would the config's own, so a password starting with ``-``, or with digits and a
    ``-``, reads as a number or a date and the server refuses to start."""
    while True:
        secret = secrets.token_urlsafe(32)
        if secret[0].isalpha():
            return secret


def write_secret(path: Path, text: str) -> None:
    """``text`` in a file only this user may read, from its first byte on."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)


def postgres_passwords(path: Path) -> dict[str, str]:
    """The Postgres passwords of the service roles in the credentials file ``path``, added to
    it on first use (a file from before they existed keeps its other passwords)."""
    stored = json.loads(path.read_text())
    kept = stored.get(POSTGRES_ENTRY)
    if isinstance(kept, dict) and set(kept) >= set(POSTGRES_ROLES):
        return {role: str(kept[role]) for role in POSTGRES_ROLES}
    made = {role: new_secret() for role in POSTGRES_ROLES}
    write_secret(path, json.dumps({**stored, POSTGRES_ENTRY: made}, indent=2))
    return made


def postgres_url_as(identities: Identities, url: str, role: Role) -> str:
    """``url`` (the owner's) with ``role``'s Postgres login; the admin's is ``url`` itself."""
    if role == "admin":
        return url
    return with_user(url, POSTGRES_ROLES[role], identities.postgres[role])


def with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
