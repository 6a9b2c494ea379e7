"""The SQL of the Postgres roles agrees with the contracts, and a tenant cannot escape the
statement that names it."""

from __future__ import annotations

import re

import pytest

from agentlist.api.db.tenancy import begin_statement
from agentlist.contracts.access import POSTGRES_ROLES
from agentlist.contracts.ids import SYSTEM_TENANT
from agentlist.db.pool import migrations

ROLES_SQL = next(m.sql for m in migrations() if m.name == "0004_roles_and_rls.sql")


def test_the_migration_makes_the_contracts_roles_and_shares_the_system_tenant_only() -> None:
    made = re.search(r"ARRAY\[([^\]]*)\]", ROLES_SQL)
    assert made is not None
    assert set(re.findall(r"'(\w+)'", made.group(1))) == set(POSTGRES_ROLES.values())
    shared = set(re.findall(r"tenant_id = '([^']*)'", ROLES_SQL))
    assert shared == {SYSTEM_TENANT}


@pytest.mark.parametrize("tenant", ["acme", "o'brien", "back\\slash", "x'); DROP TABLE runs; --"])
def test_a_tenant_is_one_escaped_constant(tenant: str) -> None:
    statement = begin_statement(tenant)
    constant = statement.split("set_config('app.tenant_id', ", 1)[1].split(", true)", 1)[0]
    assert constant.startswith("E'") and constant.endswith("'")
    body = constant[2:-1]
    # Inside, every quote is doubled and every backslash escaped: nothing ends the constant.
    assert re.fullmatch(r"(?:[^'\\]|''|\\\\)*", body)
    assert body.replace("''", "'").replace("\\\\", "\\") == tenant


@pytest.mark.parametrize("tenant", ["", "a\x00b"])
def test_no_tenant_is_no_transaction(tenant: str) -> None:
    with pytest.raises(ValueError, match="tenant"):
        begin_statement(tenant)
