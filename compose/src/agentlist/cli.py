"""``agentlist``: start the whole embedded stack, or any one service of the mesh."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING

from agentlist.core import __version__

if TYPE_CHECKING:
    from agentlist.launcher import StackOptions
    from agentlist.launcher.pool_policy import Limits

SERVICES = {
    "api": "the LangGraph Server HTTP API",
    "scheduler": "claims pending runs and dispatches them to workers",
    "registry": "worker registration, heartbeats and the graph catalogue",
    "bridge": "run events from JetStream into Redis Streams",
    "worker": "a Python worker serving a langgraph.json",
}
"""Each runs as its own distribution's entry point (``agentlist-<name>``); the CLI only
forwards to it, so ``agentlist worker --help`` is ``agentlist-worker --help``."""

TOOLS = {
    "keys": ("agentlist.api.keys_command", "create, list and revoke API keys"),
    "credentials": ("agentlist.launcher.credentials", "secrets for a deployment's servers"),
    "migrate": ("agentlist.launcher.migrate", "the owner's schema migrations and role passwords"),
    "pool": (
        "agentlist.launcher.pool",
        "the workers of a langgraph.json, as many as the load needs",
    ),
}
"""Operators' commands, forwarded like the services."""

DEV_CAPACITY = 10
"""Run slots of each of ``agentlist dev``'s workers (a worker's default)."""
DEV_COOLDOWN = 30.0
"""Seconds without a backlog before ``agentlist dev``'s pool drains a worker."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentlist", description=__doc__)
    parser.add_argument("--version", action="version", version=f"agentlist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev",
        help="start servers, every service and a worker, here",
        description=DEV_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dev.add_argument("--config", type=Path, help="langgraph.json (default: the example graphs)")
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    kept = dev.add_mutually_exclusive_group()
    kept.add_argument(
        "--data-dir", type=Path, help="keep server data here (default: .agentlist/, see above)"
    )
    kept.add_argument(
        "--ephemeral", action="store_true", help="keep nothing: a temp folder, deleted on exit"
    )
    size = dev.add_mutually_exclusive_group()
    size.add_argument(
        "--pool-max",
        type=_positive,
        help="most workers per language the pool grows to under load (default:"
        f" $AGENTLIST_DEV_POOL_MAX, else one per core, at least 2: {_machine_maximum()} here)",
    )
    size.add_argument(
        "--workers",
        type=_positive,
        help="exactly N workers per language instead (a pool of fixed size)",
    )

    for name, summary in SERVICES.items():
        commands.add_parser(name, help=summary, add_help=False)
    for name, (_module, summary) in TOOLS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


def _machine_maximum() -> int:
    from agentlist.launcher.pool_policy import default_maximum

    return default_maximum(os.cpu_count())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SERVICES:
        importlib.import_module(f"agentlist.{argv[0]}.__main__").main(argv[1:])
        return 0
    if argv and argv[0] in TOOLS:
        importlib.import_module(TOOLS[argv[0]][0]).main(argv[1:])
        return 0
    args = _parser().parse_args(argv)
    return _dev(args)


DEV_DESCRIPTION = """\
Start NATS, PostgreSQL and Valkey, the API, registry, scheduler, bridge and workers for a
langgraph.json, on this machine.

Threads, runs, the store and crons survive a restart: the servers keep their data in
.agentlist/ beside the langgraph.json (in the current directory for the example graphs),
which git ignores. Postgres acknowledges a commit only once it is written (synchronous_commit),
so a crash of a server process loses nothing accepted; fsync is off, so a crash of the machine
may. --ephemeral keeps nothing; --data-dir keeps it elsewhere.

Workers run in a pool (`agentlist pool`): one per language at first, more while runs wait
(up to --pool-max), fewer again after 30 s without a backlog. A worker that crashes is
replaced and its runs resume on their next attempt; the stack stays up. --workers N keeps
exactly N.

The config and the port are checked before anything starts; each problem is one line, and
the exit status 2 (set DEBUG=1 for tracebacks). Ctrl-C stops everything; a second Ctrl-C
stops at once."""


class _RefusedError(Exception):
    """Why ``agentlist dev`` does not start: one line per problem, found before anything ran."""


def _dev(args: argparse.Namespace) -> int:
    from agentlist.launcher.datafolder import FolderInUseError

    logging.basicConfig(level=logging.INFO, format="[dev] %(message)s")
    held: list[IO[str]] = []
    try:
        options = _dev_options(args, held)
        return _run_dev(options)
    except (_RefusedError, FolderInUseError) as refusal:
        for line in refusal.args:
            sys.stderr.write(f"agentlist dev: {line}\n")
        return 2
    except Exception as exc:
        if os.environ.get("DEBUG"):
            raise
        sys.stderr.write(f"agentlist dev: {str(exc).strip().splitlines()[0]}\n")
        return 1
    finally:
        for handle in held:
            handle.close()


def _dev_options(args: argparse.Namespace, held: list[IO[str]]) -> StackOptions:
    """The stack ``args`` ask for, once the config, the port and the data folder pass; the
    data folder's lock is appended to ``held``."""
    from agentlist.launcher import StackOptions
    from agentlist.launcher.stack import default_graphs_config

    config = (args.config or default_graphs_config()).absolute()
    problems = _config_and_port_problems(config, args.port)
    if problems:
        raise _RefusedError(*problems)
    options = StackOptions.from_environment(
        graphs_config=config.resolve(), api_port=args.port, pool=_dev_pool(args)
    )
    options.data_dir = _data_folder(args, options, held)
    options.crash_safe = options.data_dir is not None
    return options


def _dev_pool(args: argparse.Namespace) -> Limits:
    """One to ``--pool-max`` workers per language, or exactly ``--workers``."""
    from agentlist.launcher.pool import DevPoolSettings
    from agentlist.launcher.pool_policy import Limits

    if args.workers is not None:
        return Limits(args.workers, args.workers, DEV_CAPACITY, DEV_COOLDOWN)
    maximum = args.pool_max or DevPoolSettings().pool_max
    return Limits(1, maximum, DEV_CAPACITY, DEV_COOLDOWN)


def _config_and_port_problems(config: Path, port: int) -> list[str]:
    from agentlist.launcher.graphs import languages_of
    from agentlist.launcher.jsworker import js_worker_problem
    from agentlist.launcher.preflight import config_problems, port_problem

    problems = config_problems(config)
    if not problems and "javascript" in languages_of(config):
        js_problem = js_worker_problem()
        if js_problem is not None:
            problems.append(f"{config}: JavaScript graphs need the TypeScript worker: {js_problem}")
    host = os.environ.get("HOST") or "127.0.0.1"
    port_in_use = port_problem(host, port) if port else None
    return [*problems, *([port_in_use] if port_in_use else [])]


def _data_folder(
    args: argparse.Namespace, options: StackOptions, held: list[IO[str]]
) -> Path | None:
    """Where the servers keep their data (None: a temp folder). A stack that starts no server
    (all three named by URL) has nothing to keep."""
    from agentlist.launcher import datafolder

    starts_servers = not (options.nats_url and options.database_url and options.redis_url)
    if args.ephemeral or (args.data_dir is None and not starts_servers):
        return None
    folder: Path
    if args.data_dir is not None:
        folder = args.data_dir.resolve()
        datafolder.prepare(folder, ignored_by_git=False)
    else:
        folder = datafolder.project_folder(args.config, Path.cwd())
        datafolder.prepare(folder, ignored_by_git=True)
    if os.geteuid() == 0 and not options.database_url:
        closed = datafolder.untraversable_parent(folder)
        if closed is not None:
            raise _RefusedError(
                f"{folder}: as root, Postgres runs as nobody, who cannot enter {closed}:"
                f" run `chmod o+x {closed}`, or choose --data-dir under /tmp, or --ephemeral"
            )
    held.append(datafolder.lock(folder))
    return folder


def _run_dev(options: StackOptions) -> int:
    from agentlist.launcher import Stack
    from agentlist.launcher.supervisor import Supervisor

    stack = Stack(options)
    started = time.monotonic()

    def at_once(_signum: int, _frame: FrameType | None) -> None:
        stack.hurry()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        # A second Ctrl-C (or SIGTERM) cuts the orderly stop short, wherever it has got to.
        signal.signal(signal.SIGINT, at_once)
        signal.signal(signal.SIGTERM, at_once)
        sys.stderr.write("[dev] stopping... (Ctrl-C again to stop at once)\n")
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        _print_banner(stack, time.monotonic() - started)
        supervisor = Supervisor()
        while True:
            for line in supervisor.tick(stack.services, time.monotonic()):
                sys.stderr.write(f"[dev] {line}\n")
            time.sleep(0.25)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()


def _print_banner(stack: object, seconds: float) -> None:
    from agentlist.launcher import Stack

    assert isinstance(stack, Stack)
    lines = [
        "",
        f"AgentList is ready in {seconds:.1f}s",
        f"  Auth:    {AUTH_LINES.get(str(stack.info().get('auth')), 'unknown')}",
        f"  API:     {stack.api_url}",
        f"  Docs:    {stack.api_url}/docs",
        f"  Studio:  {stack.api_url}/ui",
        f"  Health:  {stack.api_url}/health",
        f"  Data:    {_data_line(stack)}",
        f"  Workers: {_workers_line(stack)}",
        "",
        "Join more workers to this stack from another terminal with (a worker's credentials):",
        f"  NATS_URL={stack.url_as(stack.nats_url, 'worker')}",
        f"  DATABASE_URL={stack.database_url_as('worker')}",
        f"Other roles' passwords (api, scheduler, registry, bridge): {stack.credentials_file}",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def _workers_line(stack: object) -> str:
    from agentlist.launcher import Stack

    assert isinstance(stack, Stack)
    limits = stack.options.pool
    if limits is None:
        return f"{stack.options.workers} per language"
    if limits.minimum == limits.maximum:
        return f"{limits.maximum} per language (a pool of fixed size; a dead one is replaced)"
    return (
        f"{limits.minimum} to {limits.maximum} per language, as many as the runs waiting need"
        f" (agentlist pool; --pool-max)"
    )


def _data_line(stack: object) -> str:
    from agentlist.launcher import Stack

    assert isinstance(stack, Stack)
    if stack.options.data_dir is None:
        return f"{stack.data_dir} (temporary: deleted on exit)"
    return f"{stack.data_dir} (kept: threads, runs and the store survive a restart)"


AUTH_LINES = {
    "open": "open (no authentication: this machine only; see AUTH_ENABLED in the README)",
    "custom": "custom (langgraph.json's auth handlers)",
    "builtin": "built-in (JWT bearer tokens, and API keys from `agentlist keys create`)",
    "gateway": "gateway (callers come through the gateway that holds the secret)",
}


if __name__ == "__main__":
    raise SystemExit(main())
