"""What the mesh's identities cost per run: CPU of every process, with them on and off, same run.

``.venv/bin/python benchmarks/identities_overhead.py [--clients 16] [--seconds 10]
[--rounds 3] [--one-stack] [--json PATH]``

Starts two AgentList stacks side by side, with the benchmark graphs and one worker each:

* ``on``: the embedded stack as ``agentlist dev`` runs it. Every service connects to NATS and
  Redis as its role's user, with only that role's rights, and Postgres as what the launcher
  gives it; runs are fenced by their lease tokens.
* ``off``: the same services, with a NATS and a Valkey this script starts with no users at
  all (anonymous, every right) and Postgres as its superuser: what the mesh was before the
  issue "The mesh trusts no one". It exists only here, to be measured; no mode of the
  launcher leaves identities off.

Each round runs a closed loop of ``--clients`` clients doing ``runs.wait`` on the trivial
graph (one thread each) against one stack, then the other (the order alternates), and reads
the CPU of every process of that stack (its services, workers and servers, from ``/proc``)
before and after the window. The table gives each process's median milliseconds of CPU per
completed run, and the totals.

``--one-stack`` measures the ``on`` stack alone (half the time, and no second stack sharing
the machine's cores): the CPU per run of ``agentlist dev`` as it is, for comparing commits.
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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentlist.launcher import Stack, StackOptions, binaries
from agentlist.launcher.identities import Identities
from agentlist.launcher.process import free_port, port_open, wait_until
from agentlist.launcher.servers import PostgresServer
from benchmarks import load, servers

logger = logging.getLogger("benchmarks")

GRAPH = "trivial"
WARMUP_SECONDS = 3.0


@dataclass
class Mode:
    name: str
    stack: Stack
    extra_roles: dict[int, str] = field(default_factory=dict)
    """Servers this script started for the stack (the ``off`` mode's NATS and Valkey)."""

    def roles(self) -> dict[int, str]:
        roles = {s.pid: s.name for s in self.stack.services}
        roles.update({s.pid: name for name, s in self.stack.servers.items() if s.pid})
        roles.update(self.extra_roles)
        return roles

    def cpu(self) -> dict[str, float]:
        # Listed afresh each time: Postgres forks a backend per new connection as pools grow.
        roles = self.roles()
        return servers.cpu_by_role(servers.descendants(roles), roles)


@contextmanager
def anonymous_server(argv: Sequence[str], port: int, log: Path) -> Iterator[int]:
    """A server process with no users (anything may connect); yields its pid."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: port_open(port), timeout=30, what=argv[0])
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def stack_on(folder: Path) -> Iterator[Mode]:
    options = StackOptions(graphs_config=servers.GRAPHS_CONFIG, log_dir=folder / "logs")
    with Stack(options) as stack:
        yield Mode("on", stack)


@contextmanager
def stack_off(folder: Path) -> Iterator[Mode]:
    nats_port, redis_port = free_port(), free_port()
    (folder / "js").mkdir(parents=True)
    nats_argv = [
        str(binaries.nats_server()),
        "-a", "127.0.0.1", "-p", str(nats_port), "-js", "-sd", str(folder / "js"),
    ]  # fmt: skip
    redis_argv = [
        str(binaries.redis_server()),
        "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
        "--dir", str(folder),
    ]  # fmt: skip
    # Every service as the superuser (the admin's URL), as before Postgres had roles.
    postgres = PostgresServer(folder, Identities.load_or_create(folder))
    postgres.start()
    try:
        with (
            anonymous_server(nats_argv, nats_port, folder / "nats.log") as nats_pid,
            anonymous_server(redis_argv, redis_port, folder / "redis.log") as redis_pid,
        ):
            options = StackOptions(
                graphs_config=servers.GRAPHS_CONFIG,
                api_port=0,
                log_dir=folder / "logs",
                nats_url=f"nats://127.0.0.1:{nats_port}",
                redis_url=f"redis://127.0.0.1:{redis_port}/0",
                database_url=postgres.url,
            )
            with Stack(options) as stack:
                own = {nats_pid: "nats", redis_pid: "redis"}
                if postgres.pid is not None:
                    own[postgres.pid] = "postgres"
                yield Mode("off", stack, own)
    finally:
        postgres.stop()


@dataclass(frozen=True)
class Round:
    mode: str
    runs: int
    errors: int
    cpu_seconds: dict[str, float]

    def ms_per_run(self) -> dict[str, float]:
        runs = max(self.runs, 1)
        return {role: 1000 * seconds / runs for role, seconds in self.cpu_seconds.items()}


async def measure(mode: Mode, clients: int, seconds: float) -> Round:
    sdk = load.make_clients(mode.stack.api_url)
    try:
        threads = await load.make_threads(sdk[0], clients)
        window = load.Window(warmup=WARMUP_SECONDS, seconds=seconds)
        before = mode.cpu()
        measured = await load.closed_loop(sdk, load.one_wait, GRAPH, threads, window)
        after = mode.cpu()
    finally:
        for client in sdk:
            await client.aclose()
    # The CPU read covers the warm-up too: scale it to the window's share of the loop.
    share = seconds / (seconds + WARMUP_SECONDS)
    spent = {role: (after[role] - before.get(role, 0.0)) * share for role in after}
    return Round(mode.name, measured.runs, measured.errors, spent)


def _by_process(role: str) -> str:
    # "worker-1", "api-1"... name a process of the role; the table sums by role.
    return role.rsplit("-", 1)[0] if role[-1].isdigit() else role


def table(rounds: Sequence[Round]) -> str:
    modes = sorted({r.mode for r in rounds}, key=["on", "off"].index)
    per_mode: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    for measured in rounds:
        summed: dict[str, float] = {}
        for role, ms in measured.ms_per_run().items():
            summed[_by_process(role)] = summed.get(_by_process(role), 0.0) + ms
        summed["total"] = sum(summed.values())
        per_mode[measured.mode].append(summed)
    roles = sorted({r for rows in per_mode.values() for row in rows for r in row} - {"total"})
    lines = ["process      " + "".join(f"{m + ' ms/run':>14}" for m in modes) + "   on / off"]
    for role in [*roles, "total"]:
        medians = [statistics.median(row.get(role, 0.0) for row in per_mode[m]) for m in modes]
        ratio = f"{medians[0] / medians[1]:9.2f}" if len(medians) == 2 and medians[1] else ""
        lines.append(f"{role:<13}" + "".join(f"{v:14.2f}" for v in medians) + f"  {ratio}")
    totals = {m: [round(row["total"], 2) for row in per_mode[m]] for m in modes}
    runs = {m: [r.runs for r in rounds if r.mode == m] for m in modes}
    lines.append(f"totals per round: {totals}; runs per round: {runs}")
    return "\n".join(lines)


async def run(modes: Sequence[Mode], clients: int, seconds: float, count: int) -> list[Round]:
    rounds: list[Round] = []
    for index in range(count):
        order = list(modes) if index % 2 == 0 else list(reversed(modes))
        for mode in order:
            measured = await measure(mode, clients, seconds)
            logger.info(
                "round %d %-3s %d runs, %d errors",
                index + 1,
                mode.name,
                measured.runs,
                measured.errors,
            )
            rounds.append(measured)
    return rounds


def measure_modes(
    folder: Path, clients: int, seconds: float, count: int, one_stack: bool
) -> list[Round]:
    if one_stack:
        with stack_on(folder / "on") as on:
            return asyncio.run(run([on], clients, seconds, count))
    with stack_on(folder / "on") as on, stack_off(folder / "off") as off:
        return asyncio.run(run([on, off], clients, seconds, count))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one-stack", action="store_true", help="measure the 'on' stack only")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    folder = Path(tempfile.mkdtemp(prefix="agentlist-identities-"))
    folder.chmod(0o755)  # Postgres runs as nobody when we are root
    try:
        rounds = measure_modes(folder, args.clients, args.seconds, args.rounds, args.one_stack)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"runs.wait on {GRAPH!r}, {args.clients} clients, {args.seconds:g} s windows,"
        f" {args.rounds} rounds: CPU per completed run by process (medians)"
    )
    print(table(rounds))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rounds], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
