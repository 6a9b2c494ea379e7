"""``agentlist-bridge`` (or ``python -m agentlist.bridge``): run one bridge until SIGTERM."""

from __future__ import annotations

import argparse

from agentlist.bridge.service import main as serve
from agentlist.bridge.settings import BridgeSettings


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="agentlist-bridge", description=__doc__).parse_args(argv)
    serve(BridgeSettings())


if __name__ == "__main__":
    main()
