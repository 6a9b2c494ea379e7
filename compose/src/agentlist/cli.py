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

from agentlist.core import __version__

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
}
"""Operators' commands, forwarded like the services."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentlist", description=__doc__)
    parser.add_argument("--version", action="version", version=f"agentlist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start servers, every service and a worker, here")
    dev.add_argument("--config", type=Path, help="langgraph.json (default: the example graphs)")
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    dev.add_argument("--data-dir", type=Path, help="keep server data here (default: a temp folder)")
    dev.add_argument("--workers", type=int, default=1, help="workers per language the graphs need")

    for name, summary in SERVICES.items():
        commands.add_parser(name, help=summary, add_help=False)
    for name, (_module, summary) in TOOLS.items():
        commands.add_parser(name, help=summary, add_help=False)
    return parser


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


def _dev(args: argparse.Namespace) -> int:
    from agentlist.launcher import Stack, StackOptions

    logging.basicConfig(level=logging.INFO, format="[dev] %(message)s")
    overrides: dict[str, object] = {"api_port": args.port, "workers": args.workers}
    if args.config is not None:
        overrides["graphs_config"] = args.config.resolve()
    if args.data_dir is not None:
        overrides["data_dir"] = args.data_dir.resolve()
    stack = Stack(StackOptions.from_environment(**overrides))
    started = time.monotonic()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        _print_banner(stack, time.monotonic() - started)
        while all(child.alive() for child in stack.services):
            time.sleep(0.5)
        dead = [child.name for child in stack.services if not child.alive()]
        sys.stderr.write(f"[dev] {', '.join(dead)} exited; stopping the stack\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("[dev] stopping...\n")
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
        "",
        "Join more workers to this stack from another terminal with (a worker's credentials):",
        f"  NATS_URL={stack.url_as(stack.nats_url, 'worker')}",
        f"  DATABASE_URL={stack.database_url}",
        f"Other roles' passwords (api, scheduler, registry, bridge): {stack.credentials_file}",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


AUTH_LINES = {
    "open": "open (no authentication: this machine only; see AUTH_ENABLED in the README)",
    "custom": "custom (langgraph.json's auth handlers)",
    "builtin": "built-in (JWT bearer tokens, and API keys from `agentlist keys create`)",
    "gateway": "gateway (callers come through the gateway that holds the secret)",
}


if __name__ == "__main__":
    raise SystemExit(main())
