"""``agentlist-scheduler`` (``python -m agentlist.scheduler``): one scheduler, until SIGTERM."""

from __future__ import annotations

import argparse

from agentlist.scheduler.service import main as serve
from agentlist.scheduler.settings import SchedulerSettings


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(prog="agentlist-scheduler", description=__doc__).parse_args(argv)
    serve(SchedulerSettings())


if __name__ == "__main__":
    main()
