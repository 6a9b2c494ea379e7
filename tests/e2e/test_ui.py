"""Studio at ``/ui``: its page and assets as the API serves them (no browser here, so the
module is checked by node and its SSE parser unit-tested by ``node --test``)."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from agentlist.launcher import Stack

SSE_TEST = Path(__file__).resolve().parents[1] / "js" / "sse.test.mjs"
JS = "text/javascript; charset=utf-8"


def _node() -> str:
    node = shutil.which("node")
    assert node is not None, "node is needed for the UI tests"
    return node


def _served(stack: Stack, path: str, content_type: str) -> str:
    response = httpx.get(f"{stack.api_url}{path}")
    assert response.status_code == 200, path
    assert response.headers["content-type"] == content_type, path
    return response.text


def test_page_references_its_module_and_stylesheet(stack: Stack, tmp_path: Path) -> None:
    page = _served(stack, "/ui", "text/html; charset=utf-8")
    assert _served(stack, "/ui/", "text/html; charset=utf-8") == page
    assert re.search(r'<script type="module" src="/ui/app.js">', page)
    assert re.search(r'<link rel="stylesheet" href="/ui/style.css">', page)
    assert ":root" in _served(stack, "/ui/style.css", "text/css; charset=utf-8")
    app = _served(stack, "/ui/app.js", JS)
    assert 'from "./sse.js"' in app
    assert "innerHTML" not in app and "insertAdjacentHTML" not in app
    for name, source in (("app", app), ("sse", _served(stack, "/ui/sse.js", JS))):
        # .mjs: node 20 parses a bare .js outside a "type": "module" package as CommonJS.
        module = tmp_path / f"{name}.mjs"
        module.write_text(source)
        checked = subprocess.run(
            [_node(), "--check", str(module)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    "path",
    [
        "/ui/../pyproject.toml",
        "/ui/..%2Fpyproject.toml",
        "/ui/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
        "/ui/static/app.js",
        "/ui/__init__.py",
        "/ui/nope.js",
    ],
)
def test_only_the_known_files_are_served(stack: Stack, path: str) -> None:
    # http.client sends the path as written; httpx would normalise the dot segments away.
    url = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 404, (path, body[:200])
    assert b"[project]" not in body


def test_sse_parser_of_the_served_module(stack: Stack, tmp_path: Path) -> None:
    served = tmp_path / "sse.mjs"
    served.write_text(_served(stack, "/ui/sse.js", JS))
    finished = subprocess.run(
        [_node(), "--test", str(SSE_TEST)],
        env={**os.environ, "AGENTLIST_SSE_JS": str(served)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "# fail 0" in finished.stdout
