"""``agentlist credentials env``: fresh secrets for a deployment, as the lines of an env file.

Compose reads ``compose/.env``: every role's NATS, Redis and Postgres password
(:func:`agentlist.contracts.access.password_variable`; Postgres's ``admin`` is the owner's,
who migrates) and ``JWT_SECRET``. Writing a new file and restarting the services is how they
are rotated (the owner's Postgres password is kept by its volume: see docker-compose.yml).
"""

from __future__ import annotations

import argparse
import secrets
import sys

from agentlist.contracts.access import (
    NATS_PERMISSIONS,
    POSTGRES_ROLES,
    REDIS_ROLES,
    password_variable,
)


def env_lines() -> list[str]:
    lines = [f"{password_variable('nats', role)}={_secret()}" for role in NATS_PERMISSIONS]
    lines += [f"{password_variable('redis', role)}={_secret()}" for role in sorted(REDIS_ROLES)]
    lines += [
        f"{password_variable('postgres', role)}={_secret()}" for role in ["admin", *POSTGRES_ROLES]
    ]
    lines.append(f"JWT_SECRET={_secret()}")
    return lines


def _secret() -> str:
    return secrets.token_urlsafe(32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="agentlist credentials", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="print an env file of fresh passwords for Compose")
    parser.parse_args(argv)
    sys.stdout.write("\n".join(env_lines()) + "\n")
