"""Postgres pools, and the schema migrations: applied by the owner (``agentlist migrate``), or
at start-up by a service whose role may (a superuser's, in tests); the services' own roles only
check that the schema is at their version, and wait for the owner otherwise."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final, NamedTuple

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from agentlist.core.lifecycle import FatalError
from agentlist.core.retry import Transient, retry, sleep_unless

logger = logging.getLogger(__name__)

# An arbitrary constant shared by every service: only one of them migrates at a time.
MIGRATION_LOCK_KEY = 0x6167_6C69_7374  # "aglist"

# Session locks: the migrations take a transaction each.
_LOCK: Final = "SELECT pg_advisory_lock($1)"
_UNLOCK: Final = "SELECT pg_advisory_unlock($1)"

PING: Final = "SELECT 1"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(
            json_type, encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
        )


def _encode_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose ``json``/``jsonb`` columns read and write Python values."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=30,
    )
    assert pool is not None
    return pool


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection needs no reset beyond the rollback of a transaction left open,
    which asyncpg does before this: the mesh keeps no session state (its settings are
    transaction-local, the migration's session lock is released in a ``finally``). The
    default reset (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``, an advisory unlock) is a
    round trip more on every release, and a pool query is an acquire and a release."""


@dataclass
class AfterCommit:
    """The command tag of the statement that followed a commit (``transaction_then``)."""

    status: str = ""

    @property
    def found_rows(self) -> bool:
        """Whether that statement (a ``SELECT``) returned rows: its tag is ``SELECT <n>``."""
        return self.status.startswith("SELECT ") and self.status != "SELECT 0"


@contextlib.asynccontextmanager
async def transaction_begun_with(
    conn: PoolConnectionProxy[asyncpg.Record], statement: str
) -> AsyncIterator[None]:
    """A transaction opened by ``BEGIN; <statement>`` in one simple query (one round trip, so
    ``statement`` takes no parameters), committed on the way out, rolled back on an error."""
    async with _simple_transaction(conn, f"BEGIN; {statement}", "COMMIT"):
        yield


@contextlib.asynccontextmanager
async def transaction_then(
    conn: PoolConnectionProxy[asyncpg.Record], after: str
) -> AsyncIterator[AfterCommit]:
    """A transaction whose ``COMMIT`` carries ``after`` in the same simple query (one round
    trip; ``after`` takes no parameters): ``after`` runs once the commit is done, with a
    snapshot that sees it. Its command tag is in the yielded :class:`AfterCommit` once the
    block has left. Rolled back on an error."""
    async with _simple_transaction(conn, "BEGIN", f"COMMIT; {after}") as done:
        yield done


@contextlib.asynccontextmanager
async def _simple_transaction(
    conn: PoolConnectionProxy[asyncpg.Record], begin: str, commit: str
) -> AsyncIterator[AfterCommit]:
    await conn.execute(begin)
    done = AfterCommit()
    try:
        yield done
    except BaseException:
        # A connection that broke is replaced by the pool, which ends its transaction.
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await conn.execute("ROLLBACK")
        raise
    done.status = await conn.execute(commit)


async def ping(pool: asyncpg.Pool) -> None:
    """Raises unless Postgres answers (a health probe)."""
    await pool.fetchval(PING)


class Migration(NamedTuple):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations(folder: Traversable | None = None) -> list[Migration]:
    """The schema's history, oldest first. It is append-only: a change is a new file.

    ``folder`` defaults to the package's own migrations."""
    if folder is None:
        folder = resources.files("agentlist.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append(Migration(version, entry.name, entry.read_text()))
    return sorted(found)


_BOOKKEEPING: Final = """
CREATE TABLE IF NOT EXISTS agentlist_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE agentlist_migrations ADD COLUMN IF NOT EXISTS checksum text;
"""
"""The record of applied files. ``checksum`` came after the first deployments: a row
without one takes the checksum of the file as it is now."""

_APPLIED: Final = "SELECT version, name, checksum FROM agentlist_migrations"
_HAS_BOOKKEEPING: Final = "SELECT to_regclass('agentlist_migrations') IS NOT NULL"
_RECORD: Final = "INSERT INTO agentlist_migrations (version, name, checksum) VALUES ($1, $2, $3)"
_BACKFILL_CHECKSUM: Final = (
    "UPDATE agentlist_migrations SET checksum = $2 WHERE version = $1 AND checksum IS NULL"
)


class MigrationsPendingError(Exception):
    """The schema is behind this code and the role connected may not migrate it."""


async def _up_to_date(conn: PoolConnectionProxy[asyncpg.Record], history: list[Migration]) -> bool:
    """Whether every file is applied as it is now: then nothing needs the lock, nor any right
    but reading the record."""
    if not await conn.fetchval(_HAS_BOOKKEEPING):
        return False
    done = {r["version"]: r["checksum"] for r in await conn.fetch(_APPLIED)}
    return all(done.get(m.version) == m.checksum for m in history)


async def migrate(pool: asyncpg.Pool, folder: Traversable | None = None) -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction, under an
    advisory lock so that services starting together do not race. Returns what was applied.

    Raises :class:`FatalError`, before applying anything, when a file already applied has
    changed since: the database no longer matches its history, and no retry can fix that.
    Raises :class:`MigrationsPendingError` when some are missing and the role may not apply
    them (a service's own role: the owner migrates).
    """
    history = migrations(folder)
    applied: list[str] = []
    async with pool.acquire() as conn:
        if await _up_to_date(conn, history):
            return applied
        await conn.execute(_LOCK, MIGRATION_LOCK_KEY)
        try:
            try:
                await conn.execute(_BOOKKEEPING)
            except asyncpg.InsufficientPrivilegeError as exc:
                raise MigrationsPendingError(
                    f"the database's schema is not at version {history[-1].version}, and"
                    f" {await conn.fetchval('SELECT current_user')} may not migrate it: waiting"
                    " for its owner to run `agentlist migrate`"
                ) from exc
            done = {r["version"]: r for r in await conn.fetch(_APPLIED)}
            for migration in history:
                record = done.get(migration.version)
                if record is not None:
                    await _check_unchanged(conn, migration, record)
            for migration in history:
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        _RECORD, migration.version, migration.name, migration.checksum
                    )
                logger.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            await conn.execute(_UNLOCK, MIGRATION_LOCK_KEY)
    return applied


async def _check_unchanged(
    conn: PoolConnectionProxy[asyncpg.Record], migration: Migration, record: asyncpg.Record
) -> None:
    if record["checksum"] is None:
        await conn.execute(_BACKFILL_CHECKSUM, migration.version, migration.checksum)
    elif record["checksum"] != migration.checksum:
        raise FatalError(
            f"migration {migration.name} was changed after it was applied to this database"
            f" (applied as {record['name']}); migrations are append-only: restore the file"
            " and put the change in a new one"
        )


TRANSIENT: Final[Transient] = (
    OSError,  # refused and reset connections; TimeoutError is one too
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # a connection closed under a query
    # A pooled connection whose server vanished mid-operation: asyncpg leaves its protocol
    # stuck ("another operation (2) is in progress", MagicStack/asyncpg#784), and the pool
    # replaces it once its reset has failed. asyncpg has no narrower type for it.
    asyncpg.InternalClientError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure
)
"""The errors that mean Postgres (or the way to it) is away, not that a query is wrong."""


async def migrated(
    pool: asyncpg.Pool, stop: asyncio.Event | None = None, *, poll: float = 0.5
) -> list[str] | None:
    """:func:`migrate`, or, for a role that may not, wait until the owner has (saying so once);
    None if ``stop`` came first."""
    told = False
    while stop is None or not stop.is_set():
        try:
            return await migrate(pool)
        except MigrationsPendingError as exc:
            if not told:
                logger.warning("%s", exc)
                told = True
            if stop is None:
                await asyncio.sleep(poll)
            else:
                await sleep_unless(stop, poll)
    return None


@contextlib.asynccontextmanager
async def opened(
    dsn: str, stop: asyncio.Event, *, max_size: int, most_backoff: float
) -> AsyncIterator[asyncpg.Pool | None]:
    """A migrated pool once Postgres answers (a server still starting is normal), closed on
    the way out; None if ``stop`` came first. A migration that fails for any other reason is
    fatal."""
    pool = await retry(
        "postgres",
        lambda: create_pool(dsn, max_size=max_size),
        stop,
        transient=TRANSIENT,
        most=most_backoff,
    )
    if pool is None:
        yield None
        return
    try:
        applied = await retry(
            "migrations", lambda: migrated(pool, stop), stop, transient=TRANSIENT, most=most_backoff
        )
        yield None if applied is None else pool
    finally:
        await pool.close()
