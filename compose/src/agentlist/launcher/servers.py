"""NATS (JetStream), PostgreSQL and a Redis-protocol server as child processes on loopback.

Each server keeps its port and data folder across ``stop()``/``start()``, so a test can restart
one under load and the services reconnect to the same address.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from agentlist.contracts.access import nats_authorization, redis_acl_lines
from agentlist.launcher import binaries
from agentlist.launcher.identities import Identities, with_user
from agentlist.launcher.process import (
    ChildProcess,
    free_port,
    pid_alive,
    port_open,
    port_taken,
    spawn,
    wait_until,
)

logger = logging.getLogger(__name__)

READY_TIMEOUT = 30.0
PORT_TAKEN_PATIENCE = 30.0
"""How long a server keeps trying to listen on ports another process holds."""
PORT_TAKEN_PAUSE = 0.5
NATS_MAX_PAYLOAD = "8MB"
NATS_MAX_CONNECTIONS = 4096
REDIS_READY = b"+OK\r\n+PONG\r\n"
"""The answer to ``AUTH`` then ``PING`` of a Redis that serves."""


class ManagedServer:
    """Common start/stop/kill bookkeeping; subclasses say how to launch and when it is ready."""

    name = "server"

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root / self.name
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: ChildProcess | None = None
        # Ports picked here may be picked again until the server first listens on them.
        self._may_move = port is None

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        """Launch and wait until ready. A server that exits because another process holds one
        of its ports (``free_port()`` found it free only a moment ago; a restart finds its old
        port taken meanwhile) is launched again: on new ports if it never served, else on its
        own (clients reconnect to that address) once the other process lets go of them."""
        deadline = time.monotonic() + PORT_TAKEN_PATIENCE
        while True:
            self.process = self._launch()
            try:
                wait_until(self._ready, timeout=READY_TIMEOUT, what=self.name, child=self.process)
            except RuntimeError:  # it exited
                taken = [port for port in self._ports() if port_taken(port)]
                if not taken or time.monotonic() > deadline:
                    raise
                logger.warning("%s: port(s) %s taken by another process", self.name, taken)
                self.process.stop()
                if self._may_move:
                    self._choose_ports()
                else:
                    time.sleep(PORT_TAKEN_PAUSE)
            else:
                self._may_move = False
                return

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def _launch(self) -> ChildProcess:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _ports(self) -> list[int]:
        """The ports the server listens on."""
        return [self.port]

    def _choose_ports(self) -> None:
        self.port = free_port()


class NatsServer(ManagedServer):
    """Users and rights from :data:`agentlist.contracts.access.NATS_PERMISSIONS`: no client
    connects without a role's password. ``url`` is the admin's."""

    name = "nats"

    def __init__(
        self,
        root: Path,
        identities: Identities,
        port: int | None = None,
        *,
        durable: bool = False,
    ) -> None:
        super().__init__(root, port)
        self.identities = identities
        self.monitor_port = free_port()
        self.durable = durable

    @property
    def url(self) -> str:
        return self.identities.url_as(f"nats://127.0.0.1:{self.port}", "admin")

    def _ports(self) -> list[int]:
        return [self.port, self.monitor_port]

    def _choose_ports(self) -> None:
        self.port, self.monitor_port = free_port(), free_port()

    def _launch(self) -> ChildProcess:
        config = self.root / NATS_CONFIG
        # sync_interval "always" fsyncs every JetStream write (see research/reliability.md on
        # Jepsen's NATS findings); the dev default trades that for speed, like fsync=off below.
        sync = "always" if self.durable else "2m"
        write_nats_users(self.root, self.identities)
        config.write_text(
            f'listen: "127.0.0.1:{self.port}"\n'
            f'http: "127.0.0.1:{self.monitor_port}"\n'
            f"max_payload: {NATS_MAX_PAYLOAD}\n"
            f"max_connections: {NATS_MAX_CONNECTIONS}\n"
            f'pid_file: "{self.root / NATS_PID}"\n'
            f'jetstream {{ store_dir: "{self.root / "js"}", sync_interval: "{sync}" }}\n'
            f"include ./{NATS_USERS}\n"
        )
        config.chmod(0o600)
        argv = [str(binaries.nats_server()), "-c", str(config), "-l", str(self.root / "nats.log")]
        return spawn(self.name, argv, log_path=self.root / "stdout.log")

    def _ready(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as response:
                return bool(response.status == 200)
        except OSError:
            return False


NATS_CONFIG = "nats.conf"
NATS_USERS = "users.conf"
NATS_PID = "nats.pid"
_NATS_LISTEN = re.compile(r'^listen: "127\.0\.0\.1:(\d+)"$', re.MULTILINE)
_NATS_MONITOR = re.compile(r'^http: "127\.0\.0\.1:(\d+)"$', re.MULTILINE)


def write_nats_users(root: Path, identities: Identities) -> None:
    """The users of the NATS server kept in ``root``: every role and every worker team."""
    users = root / NATS_USERS
    users.touch(mode=0o600)
    users.write_text(nats_authorization(identities.passwords, identities.teams) + "\n")


def reload_nats_users(data_dir: Path, identities: Identities) -> int | None:
    """Write the users of the NATS server kept in ``data_dir`` and, if it runs, have it read
    them again (``SIGHUP``: its clients stay connected). Returns its port, or None when it is
    not running (it reads them when it starts)."""
    root = data_dir / NatsServer.name
    root.mkdir(parents=True, exist_ok=True)
    write_nats_users(root, identities)
    try:
        pid = int((root / NATS_PID).read_text().strip())
        config = (root / NATS_CONFIG).read_text()
    except (OSError, ValueError):
        return None
    listen, monitor = _NATS_LISTEN.search(config), _NATS_MONITOR.search(config)
    if listen is None or monitor is None or not _runs_config(pid, root / NATS_CONFIG):
        return None
    monitor_port = int(monitor.group(1))
    loaded = _config_load_time(monitor_port)
    os.kill(pid, signal.SIGHUP)
    # The server reloads on its own time: the caller may use the new users once it has.
    wait_until(
        lambda: _config_load_time(monitor_port) != loaded, timeout=READY_TIMEOUT, what="reload"
    )
    return int(listen.group(1))


def _config_load_time(monitor_port: int) -> str | None:
    try:
        url = f"http://127.0.0.1:{monitor_port}/varz"
        with urllib.request.urlopen(url, timeout=0.5) as response:
            loaded: str | None = json.load(response).get("config_load_time")
            return loaded
    except (OSError, ValueError):
        return None


def _runs_config(pid: int, config: Path) -> bool:
    """Whether process ``pid`` is the server started with ``config``: a pid file left by a
    killed server may name another process by now."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(config).encode() in argv


def running_postgres_port(data_dir: Path) -> int | None:
    """The port of the Postgres kept in ``data_dir`` while it runs (from its pid file)."""
    try:
        lines = (data_dir / PostgresServer.name / "data" / "postmaster.pid").read_text()
    except OSError:
        return None
    fields = lines.splitlines()
    return int(fields[3]) if len(fields) > 3 and fields[3].strip().isdigit() else None


class RedisServer(ManagedServer):
    """Users and rights from :data:`agentlist.contracts.access.REDIS_ACL`; ``default`` is off.
    ``url`` is the admin's: each service gets its role's (``Identities.url_as``)."""

    name = "redis"

    def __init__(self, root: Path, identities: Identities, port: int | None = None) -> None:
        super().__init__(root, port)
        self.identities = identities

    @property
    def url(self) -> str:
        return self.identities.url_as(f"redis://127.0.0.1:{self.port}/0", "admin")

    def _launch(self) -> ChildProcess:
        acl = self.root / "users.acl"
        acl.write_text("\n".join(redis_acl_lines(self.identities.passwords)) + "\n")
        acl.chmod(0o600)
        argv = [
            str(binaries.redis_server()),
            "--aclfile", str(acl),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.root),
            "--save", "",
            # An append-only file makes a restart keep the streams; streams are a cache of
            # JetStream either way, and must never be evicted silently.
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "no",
            "--logfile", str(self.root / "redis.log"),
        ]  # fmt: skip
        return spawn(self.name, argv, log_path=self.root / "stdout.log")

    def _ready(self) -> bool:
        password = self.identities.passwords["admin"].encode()
        answer = b""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"AUTH admin " + password + b"\r\nPING\r\n")
                while len(answer) < len(REDIS_READY) and (chunk := sock.recv(64)):
                    answer += chunk
        except OSError:
            return False
        return answer == REDIS_READY


PG_HBA = """\
# Written by the launcher on every start. Only the server's own user may reach the socket
# (unix_socket_permissions); TCP asks everyone for a password, the superuser included.
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


EMBEDDED_SHARED_BUFFERS: Final = "32MB"

EMBEDDED_POOL_SIZES: Final[Mapping[str, str]] = {
    "AGENTLIST_API_DB_POOL_SIZE": "10",
    "AGENTLIST_SCHEDULER_POOL_SIZE": "4",
    "AGENTLIST_BRIDGE_POOL_SIZE": "4",
}
"""Postgres connections of the services on the embedded server, unless the environment says
otherwise. Each connection is a backend with 3-6 MB of its own once it has run the services'
statements, and an asyncpg pool keeps what a burst opened for minutes (at 64 clients the API
had opened all of its 20, the bridge all of its 8). Their hot paths hold a connection for a
few round trips only: the API's run creation, the bridge's outcome, the scheduler's claim."""


class PostgresServer(ManagedServer):
    """PostgreSQL refuses to run as root: as root it runs as ``$PG_RUN_AS`` (``nobody``).

    Over TCP every role gives its password: the superuser ``postgres`` the ``admin`` one
    (``url``, set over the local socket at each start), the services theirs (set by
    ``agentlist migrate``).

    ``durable``: safe against the machine crashing (fsync). ``crash_safe``: safe against the
    Postgres process crashing (a commit is acknowledged once its WAL is in the kernel's cache,
    which outlives the process). Neither: a crash may lose the last commits (test suites)."""

    name = "postgres"

    def __init__(
        self,
        root: Path,
        identities: Identities,
        port: int | None = None,
        *,
        durable: bool = False,
        crash_safe: bool = False,
    ) -> None:
        super().__init__(root, port)
        self.identities = identities
        self.durable = durable
        self.crash_safe = crash_safe or durable
        self.bindir = binaries.postgres_bindir()
        self.user: int | None = None
        self.group: int | None = None
        if os.geteuid() == 0:
            account = pwd.getpwnam(os.environ.get("PG_RUN_AS", "nobody"))
            self.user, self.group = account.pw_uid, account.pw_gid
            self.bindir = binaries.postgres_bindir_for_others(self.bindir)
            if not binaries.reachable_by_others(self.root.parent):
                raise PermissionError(
                    f"As root, Postgres runs as an unprivileged user, who cannot reach {root}:"
                    " choose a data folder every user can traverse (e.g. under /tmp)"
                )
            _chown_tree(self.root, self.user, self.group)

    @property
    def url(self) -> str:
        url = f"postgresql://127.0.0.1:{self.port}/postgres"
        return with_user(url, "postgres", self.identities.passwords["admin"])

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def start(self) -> None:
        super().start()
        self._set_superuser_password()

    def _launch(self) -> ChildProcess:
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self._write_hba()
        with contextlib.suppress(FileNotFoundError):  # a stale pid file after kill -9
            pid_file = self.data_dir / "postmaster.pid"
            if not pid_alive(int(pid_file.read_text().split()[0])):
                pid_file.unlink()
        durability = "on" if self.durable else "off"
        # Torn pages (full_page_writes) and unsynced files (fsync) need the machine to crash;
        # an acknowledged commit whose WAL is still in Postgres' buffers needs only the process.
        synchronous = "on" if self.crash_safe else "off"
        argv = [
            str(self.bindir / "postgres"),
            "-D", str(self.data_dir),
            "-h", "127.0.0.1",
            "-p", str(self.port),
            "-k", str(self.root),
            # The socket trusts whoever reaches it: only the server's own user may.
            "-c", "unix_socket_permissions=0700",
            "-c", f"fsync={durability}",
            "-c", f"synchronous_commit={synchronous}",
            "-c", f"full_page_writes={durability}",
            "-c", "max_connections=400",
            # The dev profile's database is small; buffers it never fills cost nothing, but
            # once a long load has touched them all (checkpoints accumulate) 128 MB are
            # resident. The kernel's page cache still holds what falls out of 32 MB.
            "-c", f"shared_buffers={EMBEDDED_SHARED_BUFFERS}",
            "-c", "log_min_messages=warning",
        ]  # fmt: skip
        return spawn(
            self.name,
            argv,
            log_path=self.root / "postgres.log",
            user=self.user,
            group=self.group,
            stop_signal=signal.SIGINT,  # "fast" shutdown; SIGTERM would wait for clients
            env=_minimal_env(),
        )

    def _initdb(self) -> None:
        argv = [
            str(self.bindir / "initdb"),
            "-D", str(self.data_dir),
            "-U", "postgres",
            "--auth=trust",  # until _write_hba: initdb would want the password in a file
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ]  # fmt: skip
        init = spawn(
            "initdb",
            argv,
            log_path=self.root / "initdb.log",
            user=self.user,
            group=self.group,
            env=_minimal_env(),
        )
        code = init.popen.wait(120)
        init.stop()
        if code != 0:
            raise RuntimeError(f"initdb failed ({code}):\n{init.log_tail()}")

    def _write_hba(self) -> None:
        hba = self.data_dir / "pg_hba.conf"
        hba.write_text(PG_HBA)
        hba.chmod(0o600)
        if self.user is not None and self.group is not None:
            os.chown(hba, self.user, self.group)

    def _set_superuser_password(self) -> None:
        """Over the socket (trusted): a data folder made before passwords gets one too, and a
        rotated admin password takes effect."""
        password = self.identities.passwords["admin"].replace("'", "''")
        argv = [
            str(self.bindir / "psql"),
            "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.root), "-p", str(self.port), "-U", "postgres", "-d", "postgres",
        ]  # fmt: skip
        # On stdin, not in argv: another user could read the command line.
        result = subprocess.run(
            argv,
            input=f"ALTER ROLE postgres PASSWORD '{password}';\n",
            capture_output=True,
            text=True,
            env=_minimal_env(),
            timeout=READY_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cannot set the superuser's password: {result.stderr.strip()}")

    def _ready(self) -> bool:
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready" and port_open(self.port)


def _minimal_env() -> dict[str, str]:
    # Postgres as another user must not inherit HOME, TMPDIR... pointing into /root.
    return {"PATH": "/usr/bin:/bin", "LANG": "C", "LC_ALL": "C"}


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            shutil.chown(Path(dirpath) / name, uid, gid)
