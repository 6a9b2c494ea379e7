"""Postgres as each service's role: least privilege, and row-level security that holds even
against a query that forgets its tenant filter (issue 11, point 5).

Every attack is a real statement on a real server, as the role a compromised or buggy service
would have; the rows are then read back as the owner, who sees everything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psutil  # type: ignore[import-untyped]
import pytest
import pytest_asyncio
from serverkit import own_database
from waitkit import eventually

from agentlist.api.db import keys as key_rows
from agentlist.api.db.tenancy import TenantReads, begin_statement, tenant_transaction
from agentlist.contracts.access import POSTGRES_ROLES
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.db.pool import MigrationsPendingError, create_pool, migrate
from agentlist.launcher import Stack
from agentlist.launcher.identities import SERVICE_ROLES, postgres_url_as
from agentlist.launcher.migrate import prepare

TENANT_A = "tenant-a"
TENANT_B = "tenant-b"
TENANT_TABLES = ("assistants", "assistant_versions", "threads", "runs", "crons")
"""The tenant tables the API's role may use (through its policies)."""
OUT_OF_API_REACH = ("webhook_deliveries", "api_keys")
"""Tenant tables the API's role has no right on at all (a SECURITY DEFINER function reads keys)."""


class Seeded:
    """Rows of tenants A and B, and a system assistant, made by the owner."""

    def __init__(self) -> None:
        self.threads = {TENANT_A: uuid.uuid4(), TENANT_B: uuid.uuid4()}
        self.runs = {TENANT_A: uuid.uuid4(), TENANT_B: uuid.uuid4()}
        self.assistants = {
            TENANT_A: uuid.uuid4(),
            TENANT_B: uuid.uuid4(),
            SYSTEM_TENANT: uuid.uuid4(),
        }
        self.crons = {TENANT_A: uuid.uuid4(), TENANT_B: uuid.uuid4()}


async def _seed(owner: asyncpg.Connection) -> Seeded:
    seeded = Seeded()
    for tenant, assistant in seeded.assistants.items():
        await owner.execute(
            "INSERT INTO assistants (assistant_id, tenant_id, graph_id, name)"
            " VALUES ($1, $2, 'g', $2)",
            assistant,
            tenant,
        )
        await owner.execute(
            "INSERT INTO assistant_versions (assistant_id, version, tenant_id, graph_id, name)"
            " VALUES ($1, 1, $2, 'g', $2)",
            assistant,
            tenant,
        )
    for tenant in (TENANT_A, TENANT_B):
        thread, run = seeded.threads[tenant], seeded.runs[tenant]
        await owner.execute(
            "INSERT INTO threads (thread_id, tenant_id, metadata) VALUES ($1, $2, '{\"v\": 1}')",
            thread,
            tenant,
        )
        await owner.execute(
            "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs)"
            " VALUES ($1, $2, $3, $4, 'g', '{}')",
            run,
            thread,
            tenant,
            seeded.assistants[tenant],
        )
        await owner.execute(
            "INSERT INTO crons (cron_id, tenant_id, assistant_id, schedule)"
            " VALUES ($1, $2, $3, '* * * * *')",
            seeded.crons[tenant],
            tenant,
            seeded.assistants[tenant],
        )
        await owner.execute(
            "INSERT INTO webhook_deliveries (run_id, tenant_id, url, payload)"
            " VALUES ($1, $2, 'http://x', '{}')",
            run,
            tenant,
        )
        await owner.execute(
            "INSERT INTO api_keys (key_id, tenant_id, secret_sha256) VALUES ($1, $2, '\\x00')",
            f"key-{tenant}",
            tenant,
        )
    return seeded


class Database:
    def __init__(self, owner_url: str, role_urls: dict[str, str], seeded: Seeded) -> None:
        self.owner_url = owner_url
        self.role_urls = role_urls
        self.seeded = seeded

    async def connect(self, role: str) -> asyncpg.Connection:
        return await asyncpg.connect(self.role_urls[role])

    async def snapshot(self) -> list[Any]:
        """Every tenant row as the owner sees it, to prove an attack changed nothing."""
        owner = await asyncpg.connect(self.owner_url)
        try:
            rows = []
            for table in (*TENANT_TABLES, *OUT_OF_API_REACH):
                found = await owner.fetch(f"SELECT to_jsonb(t) AS row FROM {table} t")
                rows.append(sorted(json.dumps(r["row"], sort_keys=True) for r in found))
            return rows
        finally:
            await owner.close()


@pytest_asyncio.fixture(scope="module")
async def database(servers: Stack) -> AsyncIterator[Database]:
    """A database of its own, prepared as ``agentlist migrate`` does, with the session's role
    passwords (roles belong to the whole server)."""
    assert servers.identities is not None
    async with own_database(servers.database_url, "roles") as url:
        await prepare(url, servers.identities.postgres)
        owner = await asyncpg.connect(url)
        try:
            seeded = await _seed(owner)
        finally:
            await owner.close()
        role_urls = {
            kind: postgres_url_as(servers.identities, url, SERVICE_ROLES[kind])
            for kind in POSTGRES_ROLES
        }
        yield Database(url, role_urls, seeded)


async def test_service_roles_are_not_superusers_and_do_not_bypass_rls(database: Database) -> None:
    owner = await asyncpg.connect(database.owner_url)
    try:
        rows = await owner.fetch(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin"
            " FROM pg_roles WHERE rolname = ANY($1::text[])",
            list(POSTGRES_ROLES.values()),
        )
    finally:
        await owner.close()
    assert {r["rolname"] for r in rows} == set(POSTGRES_ROLES.values())
    for row in rows:
        assert not row["rolsuper"] and not row["rolbypassrls"], row
        assert not row["rolcreaterole"] and not row["rolcreatedb"], row
        assert row["rolcanlogin"], row


async def test_without_a_tenant_the_api_role_sees_no_rows(database: Database) -> None:
    api = await database.connect("api")
    try:
        for table in TENANT_TABLES:
            assert await api.fetchval(f"SELECT count(*) FROM {table}") == 0, table
        # A transaction naming no tenant is no better than none.
        async with api.transaction():
            await api.execute("SELECT set_config('app.tenant_id', '', true)")
            assert await api.fetchval("SELECT count(*) FROM threads") == 0
        for table in OUT_OF_API_REACH:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await api.fetch(f"SELECT * FROM {table}")
    finally:
        await api.close()


async def test_a_tenant_sees_its_rows_and_the_system_assistants_only(database: Database) -> None:
    pool = await create_pool(database.role_urls["api"], max_size=2)
    try:
        async with tenant_transaction(pool, TENANT_A) as conn:
            # No tenant filter at all: the policies alone decide.
            for table in ("threads", "runs", "crons"):
                tenants = {
                    r["tenant_id"] for r in await conn.fetch(f"SELECT tenant_id FROM {table}")
                }
                assert tenants == {TENANT_A}, table
            assistants = {
                r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM assistants")
            }
            assert assistants == {TENANT_A, SYSTEM_TENANT}
        reads = TenantReads(pool, TENANT_B)
        assert await reads.fetchval("SELECT count(*) FROM threads") == 1
        assert (
            await reads.fetchval(
                "SELECT count(*) FROM threads WHERE thread_id = $1",
                database.seeded.threads[TENANT_A],
            )
            == 0
        )
    finally:
        await pool.close()


async def test_a_pooled_connection_forgets_its_tenant_when_released(database: Database) -> None:
    """The pool does not reset a released connection (a round trip saved on every query): the
    tenant must be gone with its transaction, committed or rolled back, or the next caller of
    the same connection would see that tenant's rows."""
    pool = await create_pool(database.role_urls["api"], max_size=1)
    try:
        async with tenant_transaction(pool, TENANT_A) as conn:
            assert await conn.fetchval("SELECT count(*) FROM threads") == 1
        with pytest.raises(RuntimeError):
            async with tenant_transaction(pool, TENANT_A):
                raise RuntimeError("the request failed mid-transaction")
        async with pool.acquire() as same:
            assert not await same.fetchval("SELECT current_setting('app.tenant_id', true)")
            assert await same.fetchval("SELECT count(*) FROM threads") == 0
    finally:
        await pool.close()


async def test_tenant_a_cannot_insert_update_or_delete_rows_of_tenant_b(database: Database) -> None:
    before = await database.snapshot()
    seeded = database.seeded
    pool = await create_pool(database.role_urls["api"], max_size=2)
    try:
        async with tenant_transaction(pool, TENANT_A) as conn:
            # Statements that forgot their tenant filter reach tenant A's rows only; naming B's
            # rows reaches nothing.
            for table, column, ids in (
                ("threads", "thread_id", seeded.threads),
                ("runs", "run_id", seeded.runs),
                ("crons", "cron_id", seeded.crons),
                ("assistants", "assistant_id", seeded.assistants),
            ):
                target = ids[TENANT_B]
                updated = await conn.execute(
                    f"UPDATE {table} SET metadata = '{{\"stolen\": true}}' WHERE {column} = $1",
                    target,
                )
                assert updated == "UPDATE 0", table
                assert (
                    await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", target)
                    == "DELETE 0"
                )
            # The shared system assistant is read-only to a tenant.
            system = seeded.assistants[SYSTEM_TENANT]
            assert (
                await conn.execute(
                    "UPDATE assistants SET name = 'mine' WHERE assistant_id = $1", system
                )
                == "UPDATE 0"
            )
            assert (
                await conn.execute("DELETE FROM assistants WHERE assistant_id = $1", system)
                == "DELETE 0"
            )
        for statement, args in (
            # A row written in B's name...
            (
                "INSERT INTO threads (thread_id, tenant_id) VALUES ($1, $2)",
                (uuid.uuid4(), TENANT_B),
            ),
            (
                "INSERT INTO runs (run_id, thread_id, tenant_id, assistant_id, graph_id, kwargs)"
                " VALUES ($1, $2, $3, $4, 'g', '{}')",
                (uuid.uuid4(), seeded.threads[TENANT_B], TENANT_B, seeded.assistants[TENANT_B]),
            ),
            (
                "INSERT INTO assistants (assistant_id, tenant_id, graph_id, name)"
                " VALUES ($1, $2, 'g', 'x')",
                (uuid.uuid4(), SYSTEM_TENANT),
            ),
            # ...or one of A's handed over to B.
            (
                "UPDATE threads SET tenant_id = $2 WHERE thread_id = $1",
                (seeded.threads[TENANT_A], TENANT_B),
            ),
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                async with tenant_transaction(pool, TENANT_A) as conn:
                    await conn.execute(statement, *args)
    finally:
        await pool.close()
    assert await database.snapshot() == before


async def test_the_tenant_is_a_constant_no_input_can_break_out_of(database: Database) -> None:
    pool = await create_pool(database.role_urls["api"], max_size=1)
    try:
        for hostile in (
            "x'); SET LOCAL app.tenant_id = 'tenant-b'; --",
            "\\' OR true --",
            "a'b\\c",
        ):
            async with tenant_transaction(pool, hostile) as conn:
                assert await conn.fetchval("SELECT current_setting('app.tenant_id')") == hostile
                assert await conn.fetchval("SELECT count(*) FROM threads") == 0
    finally:
        await pool.close()
    assert begin_statement("t").startswith("BEGIN;")


async def test_the_worker_role_reaches_langgraphs_tables_only(database: Database) -> None:
    worker = await database.connect("worker")
    try:
        for table in (*TENANT_TABLES, *OUT_OF_API_REACH, "workers", "graphs", "pools"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await worker.fetch(f"SELECT * FROM {table} LIMIT 1")
        for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "store"):
            assert await worker.fetchval(f"SELECT count(*) FROM {table}") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker.fetch("SELECT * FROM agentlist_live_api_key($1)", f"key-{TENANT_A}")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await worker.fetch("SELECT * FROM agentlist_graph_load(NULL)")
    finally:
        await worker.close()


async def test_no_service_role_may_alter_drop_truncate_or_create(database: Database) -> None:
    before = await database.snapshot()
    for role in POSTGRES_ROLES:
        conn = await database.connect(role)
        try:
            for statement in (
                "DROP TABLE runs",
                "ALTER TABLE threads DISABLE ROW LEVEL SECURITY",
                "ALTER TABLE threads ADD COLUMN stolen text",
                "TRUNCATE threads",
                "TRUNCATE checkpoints",
                "DROP POLICY api_tenant ON threads",
                "CREATE TABLE evil (x int)",
                "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        finally:
            await conn.close()
    assert await database.snapshot() == before


async def test_the_api_finds_a_key_before_it_knows_the_tenant(database: Database) -> None:
    pool = await create_pool(database.role_urls["api"], max_size=1)
    try:
        row = await key_rows.live(pool, f"key-{TENANT_B}")
        assert row is not None and row["tenant_id"] == TENANT_B
        assert await key_rows.live(pool, "key-nobody") is None
    finally:
        await pool.close()


async def test_a_service_role_waits_for_the_owner_instead_of_migrating(servers: Stack) -> None:
    assert servers.identities is not None
    async with own_database(servers.database_url, "unmigrated") as url:
        api_url = postgres_url_as(servers.identities, url, "api")
        pool = await create_pool(api_url, max_size=1)
        try:
            with pytest.raises(MigrationsPendingError, match="agentlist migrate"):
                await migrate(pool)
            await prepare(url, servers.identities.postgres)
            assert await migrate(pool) == []  # at its version: nothing to do, no right needed
        finally:
            await pool.close()


def _local_ports(pid: int, server_port: int) -> set[int]:
    connections = psutil.Process(pid).net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.raddr and c.raddr.port == server_port}


async def test_the_launchers_services_connect_as_their_roles(stack: Stack) -> None:
    server_port = urlsplit(stack.database_url).port
    assert server_port is not None
    owner = await asyncpg.connect(stack.database_url)
    try:

        async def users_by_service() -> dict[str, set[str]]:
            sessions = await owner.fetch(
                "SELECT client_port, usename FROM pg_stat_activity WHERE client_port IS NOT NULL"
            )
            user_of = {s["client_port"]: s["usename"] for s in sessions}
            found: dict[str, set[str]] = {}
            for child in stack.services:
                kind = "worker" if child.name.startswith("worker") else child.name.split("-")[0]
                ports = _local_ports(child.pid, server_port)
                found.setdefault(kind, set()).update(user_of[p] for p in ports if p in user_of)
            return found

        expected = {kind: {POSTGRES_ROLES[kind]} for kind in POSTGRES_ROLES}
        found = await eventually(
            users_by_service,
            lambda f: all(f.get(kind) for kind in expected),
            within=30,
            what="every service connected to Postgres",
        )
        assert found == expected
        for role in set(SERVICE_ROLES.values()):
            url = urlsplit(stack.service_env(role=role)["DATABASE_URL"])
            assert url.username == POSTGRES_ROLES[role]
    finally:
        await owner.close()
