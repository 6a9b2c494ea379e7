"""``agentlist migrate``: the owner's step before any service starts.

With ``DATABASE_URL`` naming the owner (a superuser, or a role with CREATEROLE and BYPASSRLS):
LangGraph's checkpoint and store tables are set up, the mesh's migrations applied, LangGraph's
tables granted to the roles that use them, and each service role
(:data:`agentlist.contracts.access.POSTGRES_ROLES`) given the password in its variable
(:func:`agentlist.contracts.access.password_variable`, ``POSTGRES_API_PASSWORD``...) and the
right to log in. The services connect as those roles, which may not migrate: they wait for
this step. Running it again with new passwords rotates them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping

from agentlist.contracts.access import POSTGRES_ROLES, password_variable
from agentlist.core.langgraph_tables import set_up_tables
from agentlist.db.pool import create_pool, migrate
from agentlist.db.roles import grant_langgraph_tables, set_passwords

logger = logging.getLogger(__name__)


async def prepare(database_url: str, passwords: Mapping[str, str]) -> list[str]:
    """Everything above, as the owner of ``database_url``; returns the migrations applied."""
    await set_up_tables(database_url)  # first: the grants below need its tables
    pool = await create_pool(database_url, max_size=2)
    try:
        applied = await migrate(pool)
        async with pool.acquire() as conn, conn.transaction():
            await grant_langgraph_tables(conn)
            await set_passwords(conn, passwords)
    finally:
        await pool.close()
    return applied


def passwords_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """Each service role's password from its variable; raises naming those missing."""
    missing = [
        password_variable("postgres", r)
        for r in POSTGRES_ROLES
        if not env.get(password_variable("postgres", r))
    ]
    if missing:
        raise ValueError(f"set {', '.join(missing)} (e.g. from `agentlist credentials env`)")
    return {role: env[password_variable("postgres", role)] for role in POSTGRES_ROLES}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="agentlist migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[migrate] %(message)s")
    database_url = os.environ.get("DATABASE_URL")
    try:
        if not database_url:
            raise ValueError("set DATABASE_URL to the database's owner")
        passwords = passwords_from_env(os.environ)
    except ValueError as problem:
        sys.stderr.write(f"agentlist migrate: {problem}\n")
        raise SystemExit(2) from None
    applied = asyncio.run(prepare(database_url, passwords))
    logger.info("schema up to date (%d migrations applied); service roles may log in", len(applied))
