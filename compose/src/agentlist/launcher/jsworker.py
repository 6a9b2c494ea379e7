"""Starting the TypeScript worker runtime (``services/worker-js``) as a child process.

The worker is an npm package; it needs ``node`` (>= 20.6) on the PATH and its dependencies
installed (``npm ci`` in ``services/worker-js``). TypeScript graphs need no build step: the
worker's entry point registers tsx before it imports them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from agentlist.launcher.identities import Role
from agentlist.launcher.process import ChildProcess, spawn

WORKER_JS_DIR_ENV = "AGENTLIST_WORKER_JS_DIR"


class ServiceEnvironment(Protocol):
    """What the launcher's ``Stack`` offers: the environment every service runs with."""

    def service_env(
        self, extra: Mapping[str, str] | None = None, *, role: Role = "admin"
    ) -> dict[str, str]: ...


def worker_js_dir() -> Path:
    """``$AGENTLIST_WORKER_JS_DIR``, else the checkout's ``services/worker-js``."""
    override = os.environ.get(WORKER_JS_DIR_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[4] / "services" / "worker-js"


def js_worker_problem(folder: Path | None = None) -> str | None:
    """Why the JS worker cannot start here, or None when it can."""
    folder = folder or worker_js_dir()
    if shutil.which("node") is None:
        return "node is not on the PATH"
    if not (folder / "bin" / "agentlist-worker.mjs").is_file():
        return f"{folder} holds no agentlist-worker"
    if not (folder / "node_modules" / "tsx").is_dir():
        return f"its dependencies are not installed: run `npm ci` in {folder}"
    return None


def start_js_worker(
    stack: ServiceEnvironment | Mapping[str, str],
    config: Path,
    *,
    name: str = "worker-js",
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
    parent_death_signal: int | None = None,
) -> ChildProcess:
    """Start ``agentlist-worker --config <config>`` with the stack's service environment
    (``NATS_URL``, ``DATABASE_URL``...) plus ``env``. It stops on SIGTERM after draining."""
    folder = worker_js_dir()
    problem = js_worker_problem(folder)
    if problem is not None:
        raise RuntimeError(f"cannot start the JS worker: {problem}")
    if isinstance(stack, Mapping):
        environment = {**os.environ, **stack, **(env or {})}
    else:
        environment = stack.service_env(env, role="worker")
    node = shutil.which("node") or "node"
    argv = [node, str(folder / "bin" / "agentlist-worker.mjs"), "--config", str(config.resolve())]
    return spawn(
        name,
        argv,
        log_path=log_path,
        env=environment,
        cwd=config.resolve().parent,
        parent_death_signal=parent_death_signal,
    )
