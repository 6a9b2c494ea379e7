"""``agentlist api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from agentlist.api.app import create_app
from agentlist.api.auth import AuthConfigError
from agentlist.api.settings import ApiSettings
from agentlist.core.langgraph_json import ServerConfigError
from agentlist.core.logs import configure_logging

logger = logging.getLogger(__name__)


def main(settings: ApiSettings) -> None:
    configure_logging("api", settings.log_level, settings.debug)
    try:
        app = create_app(settings)
    except (AuthConfigError, ServerConfigError) as exc:
        logger.critical("api cannot start: %s", exc)
        raise SystemExit(1) from exc
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
