"""API reference pages: Swagger UI at ``/docs`` and ReDoc at ``/redoc``, open like
``/openapi.json`` (as in langgraph-api) and working with no network.

FastAPI's own pages load their scripts from a CDN and ReDoc's fonts from Google Fonts. Here the
scripts, the stylesheet and the icon are the ones the fastapi-offline wheel ships (Swagger UI
and ReDoc bundles), served under ``/docs/assets``; ReDoc falls back to the system's fonts.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

SWAGGER_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
ASSETS_PACKAGE = ("fastapi_offline", "static")
REDOC_BUNDLE = "redoc.standalone.js"
JS = "text/javascript; charset=utf-8"

# ReDoc's side menu shows Redocly's logo from Redocly's CDN, and has no option to leave it out:
# the bundle is served with a blank image in its place (the "API docs by Redocly" credit stays).
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
BLANK_IMAGE = b"data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="

# Swagger UI would send the document's URL to validator.swagger.io for its badge.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Serve the pages and their assets; ``app`` is built with ``docs_url=None`` and
    ``redoc_url=None`` so that FastAPI's CDN-bound pages are not there as well."""
    app.include_router(_pages(app.title, app.openapi_url or "/openapi.json"))
    app.include_router(_redoc_bundle())
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")


def _pages(title: str, openapi_url: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(SWAGGER_URL)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @router.get(OAUTH2_REDIRECT_URL)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @router.get(REDOC_URL)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    return router


def _redoc_bundle() -> APIRouter:
    """The route of ReDoc's bundle, ahead of the other assets: read once, the logo replaced."""
    package, folder = ASSETS_PACKAGE
    bundle = resources.files(package).joinpath(folder, REDOC_BUNDLE).read_bytes()
    offline = bundle.replace(REDOC_LOGO, BLANK_IMAGE)
    router = APIRouter(include_in_schema=False)

    @router.api_route(f"{ASSETS_URL}/{REDOC_BUNDLE}", methods=["GET", "HEAD"])
    async def redoc_bundle() -> Response:
        return Response(offline, media_type=JS, headers={"Cache-Control": "no-cache"})

    return router


def _root_path(request: Request) -> str:
    """The prefix a proxy mounts the API under (uvicorn's ``--root-path``), or ""."""
    return str(request.scope.get("root_path", "")).rstrip("/")
