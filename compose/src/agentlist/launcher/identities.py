"""Who each process is to the servers the launcher starts: a user and a password per role.

The launcher's NATS and Redis accept no anonymous client. Each service connects as its role
(``api``, ``scheduler``, ``registry``, ``bridge``, ``worker``), which the server lets do only
what that role needs; ``admin`` is the operator's and the tests' own, allowed everything.

Passwords are made once per data folder and kept in ``credentials.json`` there (mode 0600), so
a restarted server, a restarted stack and a process joining from another terminal agree on
them. Rotating them is deleting the file while the stack is stopped.

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

from agentlist.contracts.access import POSTGRES_ROLES

Role = Literal["admin", "api", "scheduler", "registry", "bridge", "worker"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
SERVICE_ROLES: Final[Mapping[str, Role]] = {
    "api": "api",
    "scheduler": "scheduler",
    "registry": "registry",
    "bridge": "bridge",
    "worker": "worker",
}
"""The role each kind of process runs as (JavaScript workers too are ``worker``)."""
FILE_NAME: Final = "credentials.json"


@dataclass(frozen=True)
class Identities:
    passwords: Mapping[str, str]
    postgres: Mapping[str, str] = field(default_factory=dict)
    """Each service role's Postgres password (see :func:`postgres_passwords`)."""

    @classmethod
    def load_or_create(cls, folder: Path) -> Identities:
        """The folder's credentials, made (readable by this user only) on first use."""
        path = folder / FILE_NAME
        if path.exists():
            stored = json.loads(path.read_text())
            if set(stored) >= set(ROLES):
                passwords: dict[str, str] = {role: str(stored[role]) for role in ROLES}
                return cls(passwords, postgres_passwords(path))
        made: dict[str, str] = {role: secrets.token_urlsafe(24) for role in ROLES}
        _write_private(path, made)
        return cls(made, postgres_passwords(path))

    def url_as(self, url: str, role: Role) -> str:
        """``url`` (any user in it or none) with ``role``'s user and password."""
        return with_user(url, role, self.passwords[role])


def _write_private(path: Path, content: Mapping[str, object]) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(content, file, indent=2)
    path.chmod(0o600)


POSTGRES_ENTRY: Final = "postgres"


def postgres_passwords(path: Path) -> dict[str, str]:
    """The Postgres passwords of the service roles in the credentials file ``path``, added to
    it on first use (a file from before they existed keeps its other passwords)."""
    stored = json.loads(path.read_text())
    kept = stored.get(POSTGRES_ENTRY)
    if isinstance(kept, dict) and set(kept) >= set(POSTGRES_ROLES):
        return {role: str(kept[role]) for role in POSTGRES_ROLES}
    made = {role: secrets.token_urlsafe(24) for role in POSTGRES_ROLES}
    _write_private(path, {**stored, POSTGRES_ENTRY: made})
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
