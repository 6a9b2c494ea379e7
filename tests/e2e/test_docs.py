"""The API reference (``/docs``: Swagger UI, ``/redoc``: ReDoc) and the Studio (``/ui``) work
with no network: all they load comes from the API itself. Checked over HTTP (the pages name only
same-origin URLs, each served with its type, and stay open on a server with auth) and in
headless Chromium (the operations are listed, no request leaves the machine, no console error).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browserkit import BROWSER_PATIENCE, Page, headless_chromium
from waitkit import eventually

from agentlist.launcher import Stack

SWAGGER_ASSETS = {
    "/docs/assets/swagger-ui-bundle.js",
    "/docs/assets/swagger-ui.css",
    "/docs/assets/favicon.png",
}
REDOC_ASSETS = {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon.png"}
# What each page must name at least; every URL it names is checked.
REFERENCED = {
    "/docs": {*SWAGGER_ASSETS, "/openapi.json"},
    "/redoc": {*REDOC_ASSETS, "/openapi.json"},
    "/ui": {"/ui/style.css", "/ui/app.js"},
}
# Attributes that load something, and the spec URL Swagger UI's inline script is given.
REFERENCE = re.compile(r"""\b(?:src|href|spec-url)="([^"]*)"|\burl: '([^']*)'""")
# An absolute or scheme-relative URL anywhere in the page: the page would reach another host.
ELSEWHERE = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[\w.-]", re.IGNORECASE)
INLINE = re.compile(r'="data:[^"]*"')
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOCAL_SCHEMES = {"data", "blob", "about"}


def _references(html: str) -> set[str]:
    """The URLs the page loads from, but data: URLs (inline, they load nothing)."""
    found = {direct or script for direct, script in REFERENCE.findall(html)}
    return {url for url in found if not url.startswith("data:")}


def _content_type(url: str) -> str:
    suffix = Path(urlsplit(url).path).suffix
    return CONTENT_TYPES[suffix]


@pytest.mark.parametrize("page", sorted(REFERENCED))
def test_the_page_references_only_same_origin_urls_and_each_is_served(
    stack: Stack, page: str
) -> None:
    response = httpx.get(f"{stack.api_url}{page}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    # data: URLs are inline (an SVG icon's xmlns names the SVG namespace with a URL).
    outside = ELSEWHERE.search(INLINE.sub("", html))
    assert outside is None, outside
    assert "googleapis" not in html and "cdn." not in html
    references = _references(html)
    assert REFERENCED[page] <= references, references
    for url in references:
        assert url.startswith("/") and not url.startswith("//"), url
        served = httpx.get(f"{stack.api_url}{url}")
        assert served.status_code == 200, url
        media_type = served.headers["content-type"].split(";")[0]
        assert media_type == _content_type(url), (url, served.headers["content-type"])
        assert served.content, url


def test_the_assets_name_no_cdn_and_the_stylesheets_load_nothing_from_elsewhere(
    stack: Stack,
) -> None:
    for asset in sorted({*SWAGGER_ASSETS, *REDOC_ASSETS} - {"/docs/assets/favicon.png"}):
        body = httpx.get(f"{stack.api_url}{asset}").text
        # ReDoc's bundle names Redocly's CDN for its logo; the API serves it without.
        assert "cdn." not in body and "fonts.googleapis" not in body, asset
    for stylesheet in ("/docs/assets/swagger-ui.css", "/ui/style.css"):
        css = httpx.get(f"{stack.api_url}{stylesheet}").text
        assert "@import" not in css, stylesheet
        # Swagger UI's icons are inline SVG data URLs (whose xmlns names, not loads, w3.org).
        for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
            assert url.startswith("data:") or not ELSEWHERE.match(url), (stylesheet, url)


def test_the_reference_is_open_and_not_in_the_schema_on_a_server_with_auth(
    auth_stack: Stack,
) -> None:
    """As in langgraph-api, the reference needs no token even where every operation does."""
    assert httpx.post(f"{auth_stack.api_url}/threads/search", json={}).status_code == 401
    for path in sorted({*REFERENCED, *SWAGGER_ASSETS, *REDOC_ASSETS, "/docs/oauth2-redirect"}):
        assert httpx.get(f"{auth_stack.api_url}{path}").status_code == 200, path
    openapi = httpx.get(f"{auth_stack.api_url}/openapi.json")
    assert openapi.status_code == 200
    paths = openapi.json()["paths"]
    assert "/threads/search" in paths
    assert not [path for path in paths if path.startswith(("/docs", "/redoc", "/ui"))]


# -- in a browser -----------------------------------------------------------------------------


def _stays_on_the_machine(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in LOOPBACK


async def _requested(page: Page) -> list[str]:
    """The URLs the page has asked for so far, once what it has drawn is loaded: two frames
    later (a component may add an image after it is first drawn), with the fonts that its text
    needs (they load lazily)."""
    await page.evaluate(
        "new Promise(drawn => requestAnimationFrame(() => requestAnimationFrame(drawn)))"
        ".then(() => document.fonts.ready).then(fonts => fonts.status)"
    )
    return [sent["request"]["url"] for sent in page.events_of("Network.requestWillBeSent")]


@pytest.mark.parametrize(
    ("path", "selector", "shown"),
    [
        ("/docs", "#swagger-ui", "/threads/search"),
        ("/redoc", "body", "/threads/search"),
        ("/ui", "#assistants", "agent"),
    ],
)
async def test_the_page_renders_in_a_browser_from_the_api_alone(
    stack: Stack, tmp_path: Path, path: str, selector: str, shown: str
) -> None:
    async with headless_chromium(tmp_path / "profile") as page:
        await page.enable("Network", "Runtime", "Log")
        await page.call("Page.navigate", url=f"{stack.api_url}{path}")
        await eventually(
            lambda: page.text(selector),
            lambda text: shown in text,
            within=BROWSER_PATIENCE,
            what=f"{shown!r} on {path}",
            context=lambda: "\n".join(page.console_errors()),
        )
        # The icon is asked for when the browser gets to it; the HTTP test checks its URL.
        expected = {f"{stack.api_url}{url}" for url in REFERENCED[path] if "favicon" not in url}
        requested = await eventually(
            lambda: _requested(page),
            lambda urls: expected <= set(urls),
            within=BROWSER_PATIENCE,
            what=f"the requests of {path}",
        )
        errors = page.console_errors()
    assert [url for url in requested if not _stays_on_the_machine(url)] == []
    assert errors == []
