"""What the owner does besides the migrations: LangGraph's tables granted to the roles that use
them, and the service roles' passwords (never in a migration file).

LangGraph's checkpointer and store make their own tables (``setup()``, run by the owner before
the migrations), so their grants cannot be part of the schema's history: they are applied again
on every ``agentlist migrate``, which costs nothing when they are already there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from agentlist.contracts.access import POSTGRES_ROLES
from agentlist.db.sql import Executor

CHECKPOINT_TABLES: Final = "checkpoints, checkpoint_blobs, checkpoint_writes"
LANGGRAPH_MIGRATION_TABLES: Final = "checkpoint_migrations, store_migrations"

# The worker runs graphs: it reads and writes checkpoints and the store. The API copies and
# deletes threads' checkpoints and serves /store; the scheduler (TTLs) and the bridge
# (stateless runs) delete threads' checkpoints. Whoever opens LangGraph's classes checks their
# tables are set up (agentlist.core.langgraph_tables), hence the migration tables.
GRANT_LANGGRAPH_TABLES: Final = f"""
GRANT SELECT, INSERT, UPDATE, DELETE ON {CHECKPOINT_TABLES}, store TO agentlist_worker;
GRANT SELECT ON {LANGGRAPH_MIGRATION_TABLES} TO agentlist_worker, agentlist_api;
GRANT SELECT, INSERT, DELETE ON {CHECKPOINT_TABLES} TO agentlist_api;
GRANT SELECT, INSERT, UPDATE, DELETE ON store TO agentlist_api;
GRANT SELECT, DELETE ON {CHECKPOINT_TABLES} TO agentlist_scheduler, agentlist_bridge;
"""


async def grant_langgraph_tables(conn: Executor) -> None:
    await conn.execute(GRANT_LANGGRAPH_TABLES)


# $1 role, $2 password: ALTER ROLE takes no parameters, so Postgres quotes them itself.
ALTER_LOGIN: Final = "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)"


async def set_passwords(conn: Executor, passwords: Mapping[str, str]) -> None:
    """Give each service role (``api``... as in :data:`POSTGRES_ROLES`) in ``passwords`` its
    password, and the right to log in with it."""
    for role, password in passwords.items():
        statement: str = await conn.fetchval(ALTER_LOGIN, POSTGRES_ROLES[role], password)
        await conn.execute(statement)
