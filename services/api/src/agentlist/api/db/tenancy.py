"""The API's queries as one tenant: row-level security's side of every tenant filter.

The API's Postgres role sees a tenant's rows only in a transaction that named the tenant
(``app.tenant_id``, transaction-local: what ``SET LOCAL`` sets), so that a query which forgot
its ``tenant_id = $n`` still cannot read or change another tenant's rows
(``migrations/0004_roles_and_rls.sql``). The queries keep their own filters as well.

Naming the tenant costs no round trip of its own: it goes with ``BEGIN`` in one simple query.
A transaction of several statements therefore costs what it did; a single read costs two more
round trips than it would on the pool (``BEGIN`` and ``COMMIT``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# A simple query (no parameters, so that it may hold two statements): the tenant is an escaped
# string constant, which an ``E''`` string reads the same whatever standard_conforming_strings
# says. ``app.operator``: an operator's transaction may change the system tenant's assistants.
_BEGIN_AS: Final = (
    "BEGIN; SELECT set_config('app.tenant_id', {tenant}, true),"
    " set_config('app.operator', '{operator}', true)"
)
_COMMIT: Final = "COMMIT"
_ROLLBACK: Final = "ROLLBACK"

Connection: TypeAlias = "PoolConnectionProxy[asyncpg.Record]"


def _constant(value: str) -> str:
    if not value or "\x00" in value:
        raise ValueError("a tenant is a non-empty string without NUL")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def begin_statement(tenant: str, *, operator: bool = False) -> str:
    """The statement that opens a transaction as ``tenant``."""
    return _BEGIN_AS.format(tenant=_constant(tenant), operator="on" if operator else "off")


@asynccontextmanager
async def tenant_transaction(
    pool: asyncpg.Pool, tenant: str, *, operator: bool = False
) -> AsyncIterator[Connection]:
    """A connection in a transaction as ``tenant``, committed on the way out (rolled back on
    an error). ``operator``: the caller may change the system tenant's assistants."""
    statement = begin_statement(tenant, operator=operator)
    async with pool.acquire() as conn:
        await conn.execute(statement)
        try:
            yield conn
        except BaseException:
            # A connection that broke is replaced by the pool, which ends its transaction.
            with suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                await conn.execute(_ROLLBACK)
            raise
        await conn.execute(_COMMIT)


@dataclass(frozen=True)
class TenantReads:
    """An :class:`agentlist.db.sql.Executor` whose every statement is a transaction of its own
    as ``tenant``: for the single reads and writes that need no transaction around them."""

    pool: asyncpg.Pool
    tenant: str
    operator: bool = False

    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """:func:`tenant_transaction` for this tenant."""
        return tenant_transaction(self.pool, self.tenant, operator=self.operator)

    async def execute(self, query: str, *args: object) -> str:
        async with self.transaction() as conn:
            result: str = await conn.execute(query, *args)
            return result

    async def executemany(self, command: str, args: Iterable[Sequence[object]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(command, args)

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self.transaction() as conn:
            rows: list[asyncpg.Record] = await conn.fetch(query, *args)
            return rows

    async def fetchrow(self, query: str, *args: object) -> asyncpg.Record | None:
        async with self.transaction() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(query, *args)
            return row

    async def fetchval(self, query: str, *args: object, column: int = 0) -> Any:
        async with self.transaction() as conn:
            return await conn.fetchval(query, *args, column=column)
