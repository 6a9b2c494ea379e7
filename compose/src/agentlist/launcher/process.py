"""Child processes that die with their parent and stop by PID, gently first."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A ``preexec_fn`` asking the kernel to send ``sig`` when the launcher dies, even by
    ``kill -9``. It runs after the uid switch, which would otherwise clear it."""

    def preexec() -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
        # The parent may already be gone between fork and prctl.
        if os.getppid() == 1:
            os.kill(os.getpid(), sig)

    return preexec


@dataclass
class ChildProcess:
    """One started program, stopped with its own signal (``SIGINT`` for Postgres)."""

    name: str
    popen: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM
    log_path: Path | None = None
    _log_file: IO[bytes] | None = field(default=None, repr=False)
    _launch: Callable[[IO[bytes] | None], subprocess.Popen[bytes]] | None = field(
        default=None, repr=False
    )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """Ask it to stop, wait, then kill it. Returns the exit code."""
        if self.alive():
            self.signal(self.stop_signal)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) ignored %s; killing it",
                    self.name,
                    self.pid,
                    signal.Signals(self.stop_signal).name,
                )
                self.popen.kill()
                self.popen.wait(5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return self.popen.returncode

    def kill_now(self) -> None:
        """``kill -9`` without waiting (safe in a signal handler: an unreaped child keeps its
        pid, so the signal cannot reach another process)."""
        if self.popen.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """``kill -9``: what a crash looks like."""
        if self.alive():
            self.popen.kill()
            self.popen.wait(10)

    def respawn(self) -> ChildProcess:
        """The same program started again, as it was first (an exited one, replaced)."""
        assert self._launch is not None and not self.alive()
        self.stop()  # closes its log
        log_file = self.log_path.open("ab") if self.log_path is not None else None
        popen = self._launch(log_file)
        return ChildProcess(
            self.name, popen, self.stop_signal, self.log_path, log_file, self._launch
        )

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: int | None = None,
    group: int | None = None,
    stop_signal: int = signal.SIGTERM,
    parent_death_signal: int | None = None,
) -> ChildProcess:
    """Start ``argv`` in its own session (the terminal's Ctrl-C reaches only the launcher,
    which stops children in order) and tied to the launcher's life: sent
    ``parent_death_signal`` (``stop_signal`` unless given) when the launcher dies."""
    log_file = log_path.open("ab") if log_path is not None else None

    def launch(output: IO[bytes] | None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            start_new_session=True,
            preexec_fn=_die_with_parent(parent_death_signal or stop_signal),
        )

    return ChildProcess(name, launch(log_file), stop_signal, log_path, log_file, launch)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, as another user (Postgres runs as nobody)
        return True
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_taken(port: int, host: str = "127.0.0.1") -> bool:
    """Whether another socket listens on ``port`` (or holds it bound): binding it fails the
    way a server's bind would (``SO_REUSEADDR``, as servers set it, ignores ``TIME_WAIT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def listens_on(pid: int, port: int) -> bool:
    """Whether process ``pid`` holds a socket listening on TCP ``port`` (so an answer on that
    port is its own, not another server's). True where ``/proc`` cannot tell."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    try:
        links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    except OSError:
        return False
    return any(f"socket:[{inode}]" in links for inode in inodes)


_TCP_LISTEN = "0A"


def _listening_inodes(port: int) -> set[str] | None:
    """The inodes of the sockets listening on ``port`` (None: no ``/proc/net/tcp`` here)."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _TCP_LISTEN:
                inodes.add(fields[9])
    return inodes if readable else None


def wait_until(
    ready: Callable[[], bool], *, timeout: float, what: str, child: ChildProcess | None = None
) -> None:
    """Poll ``ready`` until true; fail early, with the child's log, if the child exits."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        if ready():
            return
        if child is not None and not child.alive():
            raise RuntimeError(
                f"{what}: {child.name} exited with {child.popen.returncode}\n{child.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = child.log_tail() if child is not None else ""
            raise TimeoutError(f"{what}: not ready after {timeout:.0f}s\n{tail}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
