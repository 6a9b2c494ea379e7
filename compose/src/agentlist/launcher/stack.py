"""The embedded stack behind ``agentlist dev`` and the test suite.

Servers first (Postgres, NATS, Redis, or the ones named by ``DATABASE_URL``, ``NATS_URL`` and
``REDIS_URL``), then the services as separate processes (api, registry, scheduler, bridge, and
workers). Stopping goes the other way: services first, Postgres last.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from agentlist.contracts.access import REDIS_ROLES, TEAMS_FILE
from agentlist.launcher.graphs import split_by_language
from agentlist.launcher.identities import FILE_NAME as CREDENTIALS_FILE
from agentlist.launcher.identities import SERVICE_ROLES, Identities, Role, postgres_url_as
from agentlist.launcher.jsworker import start_js_worker
from agentlist.launcher.migrate import prepare
from agentlist.launcher.pool_policy import Limits
from agentlist.launcher.process import (
    ChildProcess,
    free_port,
    listens_on,
    pid_alive,
    spawn,
    wait_until,
)
from agentlist.launcher.servers import (
    EMBEDDED_POOL_SIZES,
    ManagedServer,
    NatsServer,
    PostgresServer,
    RedisServer,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

RUN_DIR_PREFIX = "agentlist-run-"
OWNER_FILE = "launcher.pid"
CORE_SERVICES = ("registry", "scheduler", "bridge")


def default_graphs_config() -> Path:
    """The example graphs shipped with AgentList."""
    return Path(str(resources.files("agentlist.worker.examples") / "langgraph.json"))


@dataclass
class StackOptions:
    graphs_config: Path = field(default_factory=default_graphs_config)
    api_port: int = 8080
    """0 picks a free port."""
    data_dir: Path | None = None
    """None: a fresh temp folder, removed when the stack stops."""
    nats_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None
    durable: bool = False
    """fsync in Postgres and NATS (slower; for tests of crash durability)."""
    crash_safe: bool = False
    """``synchronous_commit`` on in Postgres: a Postgres process crash loses no acknowledged
    commit (``agentlist dev`` on a kept data folder); fsync stays off unless ``durable``."""
    log_dir: Path | None = None
    """Where services log; None: to this terminal."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment for every service (timings, limits)."""
    workers: int = 1
    """Workers per language the graphs config needs (Python and/or TypeScript)."""
    identities: Identities | None = None
    """The credentials of servers started by another stack (``nats_url``... name them); a
    stack that starts its own servers makes its own, in its data folder."""
    worker_executable: Path | None = None
    """An ``agentlist-worker`` installed on its own (a worker team's venv or image); None:
    this interpreter's ``-m agentlist.worker``."""
    pool: Limits | None = None
    """Run the workers through ``agentlist pool`` within these limits (``agentlist dev``);
    None: ``workers`` processes started directly (the tests' stacks, which kill them by pid)."""

    @classmethod
    def from_environment(cls, **overrides: object) -> StackOptions:
        """Servers named by ``NATS_URL``/``DATABASE_URL``/``REDIS_URL`` are used, not started."""
        options = cls(
            nats_url=os.environ.get("NATS_URL") or None,
            database_url=os.environ.get("DATABASE_URL") or None,
            redis_url=os.environ.get("REDIS_URL") or None,
        )
        if worker_executable := os.environ.get("AGENTLIST_WORKER_EXECUTABLE"):
            options.worker_executable = Path(worker_executable)
        for key, value in overrides.items():
            setattr(options, key, value)
        return options


class Stack:
    """Start with ``with Stack(options) as stack:``; ``stack.api_url`` is then serving."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._owns_data_dir = options.data_dir is None
        self.data_dir = options.data_dir or _new_run_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o755)  # the unprivileged Postgres user must traverse it
        (self.data_dir / OWNER_FILE).write_text(str(os.getpid()))
        self.servers: dict[str, ManagedServer] = {}
        self.services: list[ChildProcess] = []
        self.api_port = options.api_port or free_port()
        self.nats_url = options.nats_url or ""
        self.database_url = options.database_url or ""
        self.redis_url = options.redis_url or ""
        self.identities = options.identities
        self._teams_file: Path | None = None
        """The worker teams' grants, where this stack keeps its own credentials."""
        self._migrated = False

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def info(self) -> dict[str, object]:
        """The serving API's ``/info`` (empty if it does not answer)."""
        return _http_json(f"{self.api_url}/info") or {}

    # -- servers ---------------------------------------------------------------------------

    def start_servers(self) -> None:
        if not self.database_url:
            self.database_url = self._start(
                PostgresServer(
                    self.data_dir,
                    self._own_identities(),
                    durable=self.options.durable,
                    crash_safe=self.options.crash_safe,
                )
            )
        if not self.nats_url:
            self.nats_url = self._start(
                NatsServer(self.data_dir, self._own_identities(), durable=self.options.durable)
            )
        if not self.redis_url:
            self.redis_url = self._start(RedisServer(self.data_dir, self._own_identities()))

    def _own_identities(self) -> Identities:
        """The credentials of the servers this stack starts, kept in its data folder."""
        if self.identities is None:
            self.identities = Identities.load_or_create(self.data_dir)
            self._teams_file = self.data_dir / TEAMS_FILE
        return self.identities

    def _start(self, server: ManagedServer) -> str:
        started = time.monotonic()
        server.start()
        address = f"127.0.0.1:{server.port}"  # its URL holds the admin's password: not logged
        logger.info("%s ready in %.2fs at %s", server.name, time.monotonic() - started, address)
        self.servers[server.name] = server
        return server.url

    # -- services --------------------------------------------------------------------------

    def service_env(
        self, extra: Mapping[str, str] | None = None, *, role: Role = "admin"
    ) -> dict[str, str]:
        """What a process of ``role`` is started with: the servers' URLs, with the role's
        credentials where this stack knows them (its Postgres login works once the owner has
        migrated, which this does first)."""
        if role != "admin":
            self.migrate()
        env = dict(os.environ)
        env.update(
            NATS_URL=self.url_as(self.nats_url, role),
            DATABASE_URL=self.database_url_as(role),
            REDIS_URL=self.url_as(self.redis_url, role),
            PYTHONUNBUFFERED="1",
            # The server sections of langgraph.json (http, webhooks, store...) apply.
            AGENTLIST_GRAPHS_CONFIG=str(self.options.graphs_config),
        )
        if self.identities is not None and role not in REDIS_ROLES:
            del env["REDIS_URL"]  # a role with no Redis user never reaches Redis
        if role == "registry" and self._teams_file is not None:
            env["AGENTLIST_REGISTRY_TEAMS_FILE"] = str(self._teams_file)
        if "postgres" in self.servers:
            for name, size in EMBEDDED_POOL_SIZES.items():
                env.setdefault(name, size)
        env.update(self.options.env)
        env.update(extra or {})
        return env

    @property
    def credentials_file(self) -> Path:
        """Where the passwords of the servers this stack started are kept."""
        return self.data_dir / CREDENTIALS_FILE

    def url_as(self, url: str, role: Role) -> str:
        """``url`` with ``role``'s credentials (as it is, for servers this stack does not know)."""
        return self.identities.url_as(url, role) if self.identities is not None else url

    def database_url_as(self, role: Role) -> str:
        """The database as ``role``'s Postgres login; ``database_url`` (the owner's) for the
        admin, and for every role when this stack knows no credentials."""
        if self.identities is None or not self.identities.postgres:
            return self.database_url
        return postgres_url_as(self.identities, self.database_url, role)

    def migrate(self) -> None:
        """``agentlist migrate`` as the owner, once per stack, before its first service: the
        services' roles may not migrate, and log in only once it set their passwords."""
        if self._migrated or self.identities is None or not self.identities.postgres:
            return
        started = time.monotonic()
        applied = _run_async(prepare(self.database_url, self.identities.postgres))
        self._migrated = True
        logger.info("migrated in %.2fs (%d applied)", time.monotonic() - started, len(applied))

    def start_service(
        self,
        kind: str,
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ChildProcess:
        """Start one more process of a service: ``api``, ``registry``, ``scheduler``,
        ``bridge`` or ``worker``. Tests use this to add instances and to kill them."""
        name = name or f"{kind}-{sum(1 for s in self.services if s.name.startswith(kind)) + 1}"
        log_path = self.options.log_dir / f"{name}.log" if self.options.log_dir else None
        argv = [*self._command(kind), *args]
        role = SERVICE_ROLES[kind]
        child = spawn(name, argv, log_path=log_path, env=self.service_env(env, role=role))
        self.services.append(child)
        return child

    def _command(self, kind: str) -> list[str]:
        if kind == "worker" and self.options.worker_executable is not None:
            return [str(self.options.worker_executable)]
        if kind == "pool":
            return [sys.executable, "-m", "agentlist.launcher.pool"]
        return [sys.executable, "-m", f"agentlist.{kind}"]

    def start_api(self, port: int | None = None, env: Mapping[str, str] | None = None) -> str:
        port = port or free_port()
        child = self.start_service("api", ["--port", str(port)], env=env)
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _http_ok(f"{url}/ok"), timeout=60, what="api", child=child)
        return url

    def start_worker(
        self,
        config: Path | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> ChildProcess:
        graphs_config = config or self.options.graphs_config
        return self.start_service("worker", ["--config", str(graphs_config), *args], env=env)

    def start_js_worker(self, config: Path, env: Mapping[str, str] | None = None) -> ChildProcess:
        name = f"worker-js-{sum(1 for s in self.services if s.name.startswith('worker-js')) + 1}"
        log_path = self.options.log_dir / f"{name}.log" if self.options.log_dir else None
        child = start_js_worker(self, config, name=name, env=env, log_path=log_path)
        self.services.append(child)
        return child

    def start_pool(self, limits: Limits, config: Path | None = None) -> ChildProcess:
        """``agentlist pool`` for ``config`` (the stack's by default): it starts and replaces
        the workers, of each language the graphs need, within ``limits``."""
        args = ["--config", str(config or self.options.graphs_config)]
        args += ["--min", str(limits.minimum), "--max", str(limits.maximum)]
        args += ["--capacity", str(limits.capacity), "--cooldown", f"{limits.cooldown:g}"]
        env = {}
        if self.options.worker_executable is not None:
            env["AGENTLIST_POOL_WORKER_EXECUTABLE"] = str(self.options.worker_executable)
        return self.start_service("pool", args, env=env)

    def _start_workers(self) -> list[ChildProcess]:
        """Workers of each language the graphs need: a mixed config is split in two."""
        if self.options.pool is not None:
            return [self.start_pool(self.options.pool)]
        configs = split_by_language(self.options.graphs_config, self.data_dir)
        workers: list[ChildProcess] = []
        for _ in range(self.options.workers):
            if "python" in configs:
                workers.append(self.start_worker(configs["python"]))
            if "javascript" in configs:
                workers.append(self.start_js_worker(configs["javascript"]))
        return workers

    def start_services(self) -> None:
        if self.options.log_dir is not None:
            self.options.log_dir.mkdir(parents=True, exist_ok=True)
        api = self.start_service("api", ["--port", str(self.api_port)])
        for kind in CORE_SERVICES:
            self.start_service(kind)
        workers = self._start_workers()
        wait_until(
            lambda: _http_ok(f"{self.api_url}/ok") and listens_on(api.pid, self.api_port),
            timeout=60,
            what="api",
            child=api,
        )
        expected = set(json.loads(self.options.graphs_config.read_text()).get("graphs", {}))
        self.wait_for_graphs(expected, child=workers[0] if workers else None)

    def wait_for_graphs(
        self, graph_ids: set[str], child: ChildProcess | None = None, timeout: float = 90
    ) -> None:
        """Wait until healthy workers serve every graph in ``graph_ids``."""

        def served() -> bool:
            health = _http_json(f"{self.api_url}/health")
            graphs = health.get("graphs") if health is not None else None
            return isinstance(graphs, list) and graph_ids <= set(graphs)

        wait_until(
            served, timeout=timeout, what=f"workers serving {sorted(graph_ids)}", child=child
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Stack:
        try:
            self.start_servers()
            self.start_services()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for child in reversed(self.services):
            child.stop()
        self.services.clear()
        for name in ("redis", "nats", "postgres"):
            server = self.servers.pop(name, None)
            if server is not None:
                server.stop()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def hurry(self) -> None:
        """Make a ``stop()`` under way finish now: the services are killed (a draining service
        cut off from its servers would only print tracebacks), the servers asked to stop."""
        for child in self.services:
            child.kill_now()
        for server in self.servers.values():
            if server.process is not None:
                server.process.signal(server.process.stop_signal)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def services_named(self, prefix: str) -> Iterator[ChildProcess]:
        return (s for s in self.services if s.name.startswith(prefix))


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    """``work`` to its end from synchronous code, also when the caller's thread runs an event
    loop already (an async test starting a stack): then on a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


def _new_run_dir() -> Path:
    _remove_abandoned_run_dirs()
    return Path(tempfile.mkdtemp(prefix=RUN_DIR_PREFIX))


def _remove_abandoned_run_dirs() -> None:
    """A launcher killed with -9 leaves its folder behind (its servers died with it)."""
    for candidate in Path(tempfile.gettempdir()).glob(f"{RUN_DIR_PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            owner = int((candidate / OWNER_FILE).read_text())
            if not pid_alive(owner):
                shutil.rmtree(candidate, ignore_errors=True)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - http on loopback
            return bool(response.status == 200)
    except OSError:
        return False


def _http_json(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http on loopback
            body = json.loads(response.read())
            return body if isinstance(body, dict) else None
    except (OSError, ValueError):
        return None
