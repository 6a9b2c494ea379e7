"""Who each process is to the servers the launcher starts: a user and a password per role.

The launcher's NATS and Redis accept no anonymous client. Each service connects as its role
(``api``, ``scheduler``, ``registry``, ``bridge``, ``worker``), which the server lets do only
what that role needs; ``admin`` is the operator's and the tests' own, allowed everything.

Passwords are made once per data folder and kept in ``credentials.json`` there (mode 0600), so
a restarted server, a restarted stack and a process joining from another terminal agree on
them. Rotating them is deleting the file while the stack is stopped.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args
from urllib.parse import quote, urlsplit, urlunsplit

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

    @classmethod
    def load_or_create(cls, folder: Path) -> Identities:
        """The folder's credentials, made (readable by this user only) on first use."""
        path = folder / FILE_NAME
        if path.exists():
            stored = json.loads(path.read_text())
            if set(stored) >= set(ROLES):
                return cls({role: str(stored[role]) for role in ROLES})
        made: dict[str, str] = {role: secrets.token_urlsafe(24) for role in ROLES}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(made, file, indent=2)
        path.chmod(0o600)
        return cls(made)

    def url_as(self, url: str, role: Role) -> str:
        """``url`` (any user in it or none) with ``role``'s user and password."""
        return with_user(url, role, self.passwords[role])


def with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
