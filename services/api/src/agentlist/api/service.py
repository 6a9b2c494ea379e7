"""``agentlist api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import uvicorn

from agentlist.api.app import create_app
from agentlist.api.settings import ApiSettings
from agentlist.core.logs import configure_logging


def main(settings: ApiSettings) -> None:
    configure_logging("api", settings.log_level, settings.debug)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()
