"""Logging for the worker's entry point (the runtime's modules only ever call getLogger)."""

from __future__ import annotations

import logging
import sys

_FORMAT = "[worker] %(asctime)s %(levelname)-5s %(name)s: %(message)s"
_CHATTY = ("nats", "asyncio", "httpx", "psycopg")


def configure_logging(level: str = "INFO", debug: str = "") -> None:
    """Log to stderr. ``debug`` is a comma list of namespaces such as ``agentlist:*`` or
    ``agentlist:worker`` (the ``DEBUG`` convention) that log at debug level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    namespaces = [part.strip() for part in debug.split(",") if part.strip()]
    for namespace in namespaces:
        name = namespace.replace(":", ".").removesuffix(".*").removesuffix("*")
        logging.getLogger(name or None).setLevel(logging.DEBUG)
    for chatty in _CHATTY:
        if not any(namespace.startswith(chatty) for namespace in namespaces):
            logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
