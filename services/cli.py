"""``agentlist``: start the whole embedded stack, or any one service of the mesh."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from agentlist import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agentlist", description=__doc__)
    parser.add_argument("--version", action="version", version=f"agentlist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="start servers, every service and a worker, here")
    dev.add_argument("--config", type=Path, help="langgraph.json (default: the example graphs)")
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    dev.add_argument("--data-dir", type=Path, help="keep server data here (default: a temp folder)")
    dev.add_argument("--workers", type=int, default=1, help="workers per language the graphs need")

    api = commands.add_parser("api", help="the LangGraph Server HTTP API")
    api.add_argument("--host")
    api.add_argument("--port", type=int)

    commands.add_parser("scheduler", help="claims pending runs and dispatches them to workers")
    commands.add_parser("registry", help="worker registration, heartbeats and the graph catalogue")
    commands.add_parser("bridge", help="run events from JetStream into Redis Streams")

    worker = commands.add_parser("worker", help="a Python worker serving a langgraph.json")
    worker.add_argument("--config", type=Path, required=True)
    worker.add_argument("--capacity", type=int)
    worker.add_argument("--worker-id")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "dev":
        return _dev(args)
    if args.command == "api":
        from agentlist.api.service import main as api_main
        from agentlist.api.settings import ApiSettings

        overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
        api_main(ApiSettings(**overrides))
    elif args.command == "scheduler":
        from agentlist.scheduler.service import main as scheduler_main
        from agentlist.scheduler.settings import SchedulerSettings

        scheduler_main(SchedulerSettings())
    elif args.command == "registry":
        from agentlist.registry.service import main as registry_main
        from agentlist.registry.settings import RegistrySettings

        registry_main(RegistrySettings())
    elif args.command == "bridge":
        from agentlist.bridge.service import main as bridge_main
        from agentlist.bridge.settings import BridgeSettings

        bridge_main(BridgeSettings())
    elif args.command == "worker":
        from agentlist.worker.service import main as worker_main
        from agentlist.worker.settings import WorkerSettings

        overrides = {"config": args.config}
        if args.capacity is not None:
            overrides["capacity"] = args.capacity
        if args.worker_id is not None:
            overrides["worker_id"] = args.worker_id
        worker_main(WorkerSettings(**overrides))
    return 0


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
        f"  API:     {stack.api_url}",
        f"  Docs:    {stack.api_url}/docs",
        f"  Studio:  {stack.api_url}/ui",
        f"  Health:  {stack.api_url}/health",
        "",
        "Join more workers or services to this stack from another terminal with:",
        f"  NATS_URL={stack.nats_url}",
        f"  DATABASE_URL={stack.database_url}",
        f"  REDIS_URL={stack.redis_url}",
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
