"""``agentlist keys create|list|revoke``: API keys for service accounts, straight in Postgres
(``DATABASE_URL``): whoever holds the database's credentials is the operator here.

``create`` prints the key once; only a hash of its secret is kept, so a lost key is revoked and
replaced, never recovered. Every change is written to the audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

import asyncpg

from agentlist.api.auth import audit
from agentlist.api.auth.gate import valid_tenant
from agentlist.api.auth.keys import new_key
from agentlist.api.db import keys as key_rows
from agentlist.core.logs import configure_logging
from agentlist.core.settings import ProcessSettings
from agentlist.db.pool import create_pool, migrate

ACTOR = "cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentlist keys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="make a key and print it, once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--scopes", default="", help="comma-separated permissions, e.g. operator")
    listing = commands.add_parser("list", help="keys (never their secrets), newest first")
    listing.add_argument("--tenant")
    revoke = commands.add_parser("revoke", help="stop a key from working")
    revoke.add_argument("key_id")
    return parser


async def _create(pool: asyncpg.Pool, args: argparse.Namespace) -> dict[str, Any]:
    if not valid_tenant(args.tenant):
        raise SystemExit(f"agentlist keys: invalid tenant {args.tenant!r}")
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    key = new_key()
    row = await key_rows.insert(pool, key.key_id, args.tenant, args.name, scopes, key.secret_sha256)
    audit.record("key_created", tenant=args.tenant, actor=ACTOR, key=key.key_id, scopes=scopes)
    return {**_shown(row), "api_key": key.token}


async def _revoke(pool: asyncpg.Pool, args: argparse.Namespace) -> dict[str, Any]:
    row = await key_rows.revoke(pool, args.key_id)
    if row is None:
        raise SystemExit(f"agentlist keys: no live key {args.key_id}")
    audit.record("key_revoked", tenant=row["tenant_id"], actor=ACTOR, key=row["key_id"])
    return {"key_id": row["key_id"], "revoked": True}


def _shown(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "key_id": row["key_id"],
        "tenant": row["tenant_id"],
        "name": row["name"],
        "scopes": list(row["scopes"]),
        "created_at": row["created_at"].isoformat(),
        "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
    }


async def _run(args: argparse.Namespace, database_url: str) -> Any:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool)
        if args.command == "create":
            return await _create(pool, args)
        if args.command == "revoke":
            return await _revoke(pool, args)
        return [_shown(row) for row in await key_rows.list_keys(pool, args.tenant)]
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = ProcessSettings()
    configure_logging("keys", settings.log_level, settings.debug)
    logging.getLogger("agentlist.db").setLevel(logging.WARNING)
    result = asyncio.run(_run(args, settings.database_url))
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
