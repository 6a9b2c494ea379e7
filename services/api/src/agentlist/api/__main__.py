"""``agentlist-api`` (or ``python -m agentlist.api``): serve the HTTP API until SIGTERM."""

from __future__ import annotations

import argparse

from agentlist.api.service import main as serve
from agentlist.api.settings import ApiSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="agentlist-api", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    serve(ApiSettings(**overrides))


if __name__ == "__main__":
    main()
