"""Studio: a small dependency-free UI at ``/ui``, unauthenticated like ``/docs``."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api.errors import NotFoundError

router = APIRouter(prefix="/ui", include_in_schema=False)

# Only these files are served: a request names one of them, never a path.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "auth.js": "text/javascript; charset=utf-8",
    "sse.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # The page talks to its own origin only; inline scripts and styles are never needed.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


def _asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError(f"No UI file {name}")
    body = resources.files("agentlist.api").joinpath("static", name).read_bytes()
    return Response(body, media_type=media_type, headers=_HEADERS)


@router.api_route("", methods=["GET", "HEAD"])
@router.api_route("/", methods=["GET", "HEAD"])
async def index() -> Response:
    return _asset("index.html")


@router.api_route("/{name}", methods=["GET", "HEAD"])
async def asset(name: str) -> Response:
    return _asset(name)
