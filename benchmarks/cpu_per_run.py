"""CPU per run, by process, on one secured stack: the quick measure of a cut to the hot path.

``.venv/bin/python benchmarks/cpu_per_run.py [--clients 16] [--seconds 8] [--windows 5]
[--baseline REF] [--profile worker,bridge] [--profile-dir DIR] [--native] [--json PATH]``

Starts the embedded stack as ``agentlist dev`` runs it (identities on, one worker) with the
benchmark graphs, warms up, then runs ``--windows`` closed-loop windows of ``--clients``
clients doing ``runs.wait`` on the trivial graph (one thread each). For each window it reads
the CPU of every process of the stack from ``/proc`` before and after, and divides by the
runs completed. The table gives every process's median over the windows and the spread of the
totals: the machine is shared, so one window says little.

``--baseline REF`` compares with the services as they were at a git commit: a second stack runs
them from that commit's sources (``git archive``, put first on ``PYTHONPATH``), and the windows
alternate between the two stacks, so that both see the same weather on a shared machine. The
table then gives both medians and the median of the paired differences.

``--profile`` adds one more window during which ``py-spy record`` samples the named services
(``--format raw``: collapsed stacks, one line per stack with its count) into ``--profile-dir``;
``py-spy`` is looked for beside this interpreter, then on ``PATH``. Its own overhead makes that
window's CPU figures worthless, so they are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentlist.launcher import Stack, StackOptions
from benchmarks import load, servers

logger = logging.getLogger("benchmarks")

GRAPH = "trivial"
FIRST_WARMUP_SECONDS = 5.0
WARMUP_SECONDS = 1.0
"""Between windows the clients stop and start again: a second lets the pipeline refill."""


@dataclass(frozen=True)
class Window:
    runs: int
    errors: int
    cpu_ms_per_run: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.cpu_ms_per_run.values())


def roles_of(stack: Stack) -> dict[int, str]:
    roles = {s.pid: s.name for s in stack.services}
    roles.update({s.pid: name for name, s in stack.servers.items() if s.pid})
    return roles


def cpu(stack: Stack) -> dict[str, float]:
    # Listed afresh each time: Postgres forks a backend per new connection as pools grow.
    roles = roles_of(stack)
    return servers.cpu_by_role(servers.descendants(roles), roles)


async def window(stack: Stack, clients: int, seconds: float, warmup: float) -> Window:
    sdk = load.make_clients(stack.api_url)
    try:
        threads = await load.make_threads(sdk[0], clients)
        before = cpu(stack)
        measured = await load.closed_loop(
            sdk, load.one_wait, GRAPH, threads, load.Window(warmup=warmup, seconds=seconds)
        )
        after = cpu(stack)
    finally:
        for client in sdk:
            await client.aclose()
    # The CPU read covers the warm-up and the stragglers too: scale it to the window's share.
    share = seconds / (seconds + warmup)
    runs = max(measured.runs, 1)
    spent = {role: 1000 * (after[role] - before.get(role, 0.0)) * share / runs for role in after}
    return Window(measured.runs, measured.errors, spent)


REPOSITORY = Path(__file__).resolve().parent.parent


def sources_at(ref: str, folder: Path) -> str:
    """The ``PYTHONPATH`` of the services' and contracts' sources at ``ref``."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPOSITORY), "archive", ref, "services", "contracts"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    sources = [*sorted(folder.glob("services/*/src")), folder / "contracts" / "src"]
    return ":".join(str(source) for source in sources)


@contextmanager
def stack_of(folder: Path, name: str, pythonpath: str | None = None) -> Iterator[Stack]:
    env = {"PYTHONPATH": pythonpath} if pythonpath else {}
    options = StackOptions(
        graphs_config=servers.GRAPHS_CONFIG, api_port=0, log_dir=folder / name / "logs", env=env
    )
    with Stack(options) as stack:
        yield stack


def py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def start_profiles(
    stack: Stack, names: Sequence[str], seconds: float, folder: Path, native: bool
) -> list[subprocess.Popen[bytes]]:
    folder.mkdir(parents=True, exist_ok=True)
    recorders = []
    for service in stack.services:
        if not any(service.name.startswith(name) for name in names):
            continue
        out = folder / f"{service.name}.txt"
        argv = [py_spy(), "record", "--format", "raw", "--rate", "250", "-o", str(out)]
        argv += ["-d", str(int(seconds)), "-p", str(service.pid)]
        # --native must pause the process to unwind its C stacks; without it, sampling
        # need not pause it at all.
        argv.append("--native" if native else "--nonblocking")
        logger.info("profiling %s (pid %d) into %s", service.name, service.pid, out)
        with (folder / f"{service.name}.log").open("wb") as log:
            recorders.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    return recorders


async def measure(stacks: dict[str, Stack], args: argparse.Namespace) -> dict[str, list[Window]]:
    for stack in stacks.values():
        await window(stack, args.clients, 2.0, FIRST_WARMUP_SECONDS)
    windows: dict[str, list[Window]] = {name: [] for name in stacks}
    for index in range(args.windows):
        order = list(stacks) if index % 2 == 0 else list(reversed(stacks))
        for name in order:
            measured = await window(stacks[name], args.clients, args.seconds, WARMUP_SECONDS)
            logger.info(
                "window %d %s: %d runs, %d errors, %.2f ms/run",
                index + 1,
                name,
                measured.runs,
                measured.errors,
                measured.total,
            )
            windows[name].append(measured)
    stack = stacks["new"]
    if args.profile:
        names = args.profile.split(",")
        recorders = start_profiles(stack, names, args.seconds, args.profile_dir, args.native)
        profiled = await window(stack, args.clients, args.seconds, 0.5)
        for recorder in recorders:
            recorder.wait(timeout=60)
        logger.info("profiled window: %d runs (%.2f ms/run)", profiled.runs, profiled.total)
    return windows


def by_process(windows: Sequence[Window]) -> list[dict[str, float]]:
    """Each window's ms/run summed by process kind (``worker-1`` and ``worker-2`` together)."""
    rows: list[dict[str, float]] = []
    for measured in windows:
        summed: dict[str, float] = {}
        for role, ms in measured.cpu_ms_per_run.items():
            summed[role] = summed.get(role, 0.0) + ms
        summed["total"] = measured.total
        rows.append(summed)
    return rows


def table(windows: dict[str, list[Window]]) -> str:
    rows = {name: by_process(measured) for name, measured in windows.items()}
    roles = sorted({r for name in rows for row in rows[name] for r in row} - {"total"})
    names = list(windows)
    header = "process     " + "".join(
        f"{name + ' median':>13}{'min':>7}{'max':>7}" for name in names
    )
    lines = [header + ("  paired new-base" if len(names) == 2 else "")]
    for role in [*roles, "total"]:
        line = f"{role:<12}"
        medians = []
        for name in names:
            values = [row.get(role, 0.0) for row in rows[name]]
            medians.append(statistics.median(values))
            line += f"{medians[-1]:13.2f}{min(values):7.2f}{max(values):7.2f}"
        if len(names) == 2:
            # Windows of the two stacks alternate: the median of each pair's difference is
            # less at the mercy of the machine's load than the difference of the medians.
            pairs = zip(rows[names[0]], rows[names[1]], strict=True)
            line += (
                f"{statistics.median(a.get(role, 0.0) - b.get(role, 0.0) for a, b in pairs):+15.2f}"
            )
        lines.append(line)
    for name in names:
        runs = [w.runs for w in windows[name]]
        errors = sum(w.errors for w in windows[name])
        lines.append(f"{name}: runs per window {runs}; errors {errors}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--baseline", default="", help="a git commit to compare with")
    parser.add_argument("--profile", default="", help="services to profile, e.g. worker,bridge")
    parser.add_argument("--profile-dir", type=Path, default=Path("profiles"))
    parser.add_argument("--native", action="store_true", help="py-spy --native")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    folder = Path(tempfile.mkdtemp(prefix="agentlist-cpu-"))
    folder.chmod(0o755)  # Postgres runs as nobody when we are root
    try:
        with ExitStack() as stacks:
            running = {"new": stacks.enter_context(stack_of(folder, "new"))}
            if args.baseline:
                pythonpath = sources_at(args.baseline, folder / "baseline-sources")
                running["base"] = stacks.enter_context(stack_of(folder, "base", pythonpath))
            windows = asyncio.run(measure(running, args))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    against = f", against {args.baseline} (base)" if args.baseline else ""
    print(
        f"runs.wait on {GRAPH!r}, {args.clients} clients, {args.windows} windows of"
        f" {args.seconds:g} s{against}: CPU ms per completed run by process"
    )
    print(table(windows))
    if args.json:
        found = {name: [w.__dict__ for w in measured] for name, measured in windows.items()}
        args.json.write_text(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
