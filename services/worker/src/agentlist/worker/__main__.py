"""``agentlist-worker --config langgraph.json`` (or ``python -m agentlist.worker``): serve
the graphs of a ``langgraph.json`` to the mesh until SIGTERM, then drain."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from agentlist.worker.service import main as serve
from agentlist.worker.settings import WorkerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="agentlist-worker", description=__doc__)
    parser.add_argument("--config", type=Path, help="the langgraph.json to serve")
    parser.add_argument("--capacity", type=int, help="runs held at once")
    parser.add_argument("--worker-id", help="default: py-<host>-<random>")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key, value in (
            ("config", args.config),
            ("capacity", args.capacity),
            ("worker_id", args.worker_id),
        )
        if value is not None
    }
    serve(WorkerSettings(**overrides))


if __name__ == "__main__":
    main()
