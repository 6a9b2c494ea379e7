"""``agentlist-registry`` (or ``python -m agentlist.registry``): run one registry until SIGTERM."""

from __future__ import annotations

import argparse

from agentlist.registry.service import main as serve
from agentlist.registry.settings import RegistrySettings


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="agentlist-registry", description=__doc__).parse_args(argv)
    serve(RegistrySettings())


if __name__ == "__main__":
    main()
