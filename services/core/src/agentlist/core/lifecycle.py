"""Running a service until SIGTERM/SIGINT, then letting it stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import uvloop

logger = logging.getLogger(__name__)


class FatalError(Exception):
    """Raised where a service cannot go on and retrying cannot help (a broken configuration,
    a migration that does not apply); its message is all the operator is shown."""


def run_service(name: str, serve: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``serve(stop)`` on a new event loop; ``stop`` is set by SIGTERM or SIGINT and
    ``serve`` is expected to return soon after.

    An error that escapes ``serve`` is fatal (transient ones are retried inside it): the
    process says so in one line, with the traceback for anything but :class:`FatalError`,
    and exits with status 1 for a supervisor to see.
    """

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await serve(stop)

    try:
        # uvloop: about a tenth less CPU per run in the scheduler and the bridge than
        # asyncio's own loop (benchmarks/REPORT.md).
        with (
            contextlib.suppress(KeyboardInterrupt),
            asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        ):
            runner.run(main())
    except FatalError as exc:
        logger.critical("%s cannot go on: %s", name, exc)
        raise SystemExit(1) from exc
    except Exception as exc:
        logger.critical("%s stopped by an unexpected error: %r", name, exc, exc_info=exc)
        raise SystemExit(1) from exc
