"""The two systems under test, started by the benchmark and stopped by it (by PID only):

* the reference: ``langgraph dev`` (langgraph-cli with the in-memory runtime) from a venv of
  its own under ``benchmarks/.work/`` — we only run it, we never copy its code;
* AgentList: the embedded stack of ``agentlist dev``, started through the launcher.

Also what ``/proc`` tells about their processes: the tree, memory (RSS, PSS) and CPU time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.process import free_port

logger = logging.getLogger(__name__)

BENCHMARKS = Path(__file__).resolve().parent
WORK = BENCHMARKS / ".work"
GRAPHS_CONFIG = BENCHMARKS / "graphs" / "langgraph.json"

REFERENCE_REQUIREMENTS = ("langgraph-cli[inmem]==0.4.40",)
"""Pinned so that a report says what it was measured against; bump on purpose."""

# Nothing the reference starts may reach the internet: no tracing, no analytics, no version
# check, and a proxy that answers nowhere for any HTTP client that honours one.
OFFLINE_ENV = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
_SECRETS = ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGGRAPH_CLOUD_LICENSE_KEY")


# -- the reference ---------------------------------------------------------------------------


def reference_venv(work: Path = WORK) -> Path:
    """The reference's venv, created on first use and reused while its requirements match."""
    venv = work / "reference-venv"
    marker = venv / "requirements.txt"
    wanted = "\n".join(REFERENCE_REQUIREMENTS) + "\n"
    if (venv / "bin" / "langgraph").exists() and marker.exists() and marker.read_text() == wanted:
        return venv
    logger.info("creating the reference venv in %s (%s)", venv, ", ".join(REFERENCE_REQUIREMENTS))
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, *REFERENCE_REQUIREMENTS], check=True)
    marker.write_text(wanted)
    return venv


def package_versions(python: Path, names: Iterable[str]) -> dict[str, str]:
    """Installed versions, as the given interpreter sees them."""
    script = (
        "import importlib.metadata as m, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [str(python), "-c", script, *names], check=True, capture_output=True, text=True
    )
    versions: dict[str, str] = json.loads(done.stdout)
    return versions


def absolute_config(config: Path, folder: Path) -> Path:
    """A copy of ``langgraph.json`` with absolute paths: ``langgraph dev`` resolves them
    against its working directory, which is a scratch folder (it keeps its state there)."""
    data = json.loads(config.read_text())
    base = config.parent
    data["dependencies"] = [str((base / d).resolve()) for d in data.get("dependencies", [])]
    data["graphs"] = {
        graph_id: str((base / spec).resolve()) if spec.startswith(".") else spec
        for graph_id, spec in data["graphs"].items()
    }
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "langgraph.json"
    copy.write_text(json.dumps(data, indent=2))
    return copy


@dataclass
class Reference:
    """``langgraph dev`` on a loopback port, in a fresh scratch folder."""

    venv: Path
    folder: Path
    jobs: int
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, config: Path = GRAPHS_CONFIG) -> None:
        self.port = self.port or free_port()
        copy = absolute_config(config, self.folder)
        env = {k: v for k, v in os.environ.items() if k not in _SECRETS}
        env.update(OFFLINE_ENV)
        argv = [
            str(self.venv / "bin" / "langgraph"),
            "dev",
            "--no-browser",
            "--no-reload",  # a file watcher would only cost CPU
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n-jobs-per-worker", str(self.jobs),
            "--config", str(copy),
        ]  # fmt: skip
        log = (self.folder / "langgraph-dev.log").open("wb")
        self.process = subprocess.Popen(
            argv, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_for_http(f"{self.url}/ok", self.process, timeout=120)

    def pids(self) -> list[int]:
        return descendants([self.process.pid]) if self.process is not None else []

    def stop(self) -> None:
        if self.process is None:
            return
        stop_tree(self.process, self.pids())
        self.process = None


# -- AgentList -------------------------------------------------------------------------------


@dataclass
class AgentList:
    """The embedded stack (real NATS, Postgres and Valkey, every service, N workers)."""

    workers: int
    env: Mapping[str, str]
    log_dir: Path
    stack: Stack | None = None

    @property
    def url(self) -> str:
        assert self.stack is not None
        return self.stack.api_url

    def start(self, config: Path = GRAPHS_CONFIG) -> None:
        options = StackOptions(
            graphs_config=config,
            api_port=0,
            log_dir=self.log_dir,
            env=dict(self.env),
            workers=self.workers,
        )
        self.stack = Stack(options).start()

    def roles(self) -> dict[int, str]:
        """The top process of each server and service, by PID."""
        assert self.stack is not None
        roles = {s.pid: s.name for s in self.stack.services}
        for name, server in self.stack.servers.items():
            if server.pid is not None:
                roles[server.pid] = name
        return roles

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:  # loopback only
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def stop_tree(process: subprocess.Popen[bytes], pids: Iterable[int]) -> None:
    """SIGTERM to the process we started, then to what it started, by PID; kill leftovers."""
    children = [pid for pid in pids if pid != process.pid]
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid in children if _alive(pid)]
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if alive:
            time.sleep(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- /proc -----------------------------------------------------------------------------------


def _children_by_parent() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            # The command name may hold spaces and parentheses: fields start after the last ')'.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(roots: Iterable[int]) -> list[int]:
    """``roots`` and every process below them."""
    tree = _children_by_parent()
    found: list[int] = []
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in found:
            continue
        found.append(pid)
        pending.extend(tree.get(pid, []))
    return found


def role_of(pid: int, roles: Mapping[int, str]) -> str:
    """The role of a process: its own, or its nearest ancestor's (Postgres backends)."""
    seen = 0
    current = pid
    while current > 1 and seen < 64:
        if current in roles:
            return _role_name(roles[current])
        current = _parent(current)
        seen += 1
    return "other"


def _role_name(name: str) -> str:
    """``worker-2`` and ``worker-1`` are both ``worker``."""
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() and head else name


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_by_role(pids: Iterable[int], roles: Mapping[int, str]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for pid in pids:
        role = role_of(pid, roles)
        totals[role] = totals.get(role, 0.0) + cpu_seconds(pid)
    return totals


def _kb(path: Path, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class ProcessMemory:
    rss_kb: int
    pss_kb: int


def memory_of(pid: int) -> ProcessMemory:
    proc = Path(f"/proc/{pid}")
    return ProcessMemory(_kb(proc / "status", "VmRSS:"), _kb(proc / "smaps_rollup", "Pss:"))


def memory_by_role(
    pids: Iterable[int], roles: Mapping[int, str]
) -> Iterator[tuple[str, ProcessMemory]]:
    for pid in pids:
        yield role_of(pid, roles), memory_of(pid)
