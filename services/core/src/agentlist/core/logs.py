"""Logging set-up, called only by entry points (libraries never add handlers)."""

from __future__ import annotations

import logging
import sys

_FORMAT = "%(asctime)s %(levelname)-5s %(name)s: %(message)s"


def configure_logging(service: str, level: str = "INFO", debug: str = "") -> None:
    """Log to stderr; ``debug`` is a comma list of namespaces like ``agentlist:*`` or
    ``agentlist:bridge`` that log at debug level (the ``DEBUG`` convention of the seed)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"[{service}] {_FORMAT}"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for namespace in filter(None, (part.strip() for part in debug.split(","))):
        logger_name = namespace.replace(":", ".").removesuffix(".*").removesuffix("*")
        logging.getLogger(logger_name or None).setLevel(logging.DEBUG)
    # Chatty libraries stay at warning unless asked for by name.
    for noisy in ("nats", "httpx", "uvicorn.access", "asyncio", "psycopg"):
        if not any(part.startswith(noisy) for part in debug.split(",")):
            logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
