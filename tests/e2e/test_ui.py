"""Studio at ``/ui``: its page and assets as the API serves them (the modules checked by node,
the SSE parser unit-tested by ``node --test``, the token rules run by node), and the page itself
in headless Chromium on a server with custom auth, driven over the DevTools protocol."""

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
from browserkit import BROWSER_PATIENCE, headless_chromium
from langgraph_sdk import get_client
from waitkit import eventually

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
    assert 'from "./sse.js"' in app and 'from "./auth.js"' in app
    assert "innerHTML" not in app and "insertAdjacentHTML" not in app
    modules = {name: _served(stack, f"/ui/{name}.js", JS) for name in ("sse", "auth")}
    for name, source in {"app": app, **modules}.items():
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


# -- the token -------------------------------------------------------------------------------

TOKEN_RULES = """
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
const source = await readFile(process.env.AGENTLIST_AUTH_JS, "utf8");
const { authHeaders, authProblem } = await import(
  `data:text/javascript,${encodeURIComponent(source)}`
);
const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
assert.deepEqual(authHeaders(""), {});
assert.deepEqual(authHeaders("  "), {});
assert.deepEqual(authHeaders(null), {});
assert.deepEqual(authHeaders("Bearer token-alice"), { Authorization: "Bearer token-alice" });
assert.deepEqual(authHeaders(" bearer  abc "), { Authorization: "Bearer abc" });
assert.deepEqual(authHeaders(jwt), { Authorization: `Bearer ${jwt}` });
assert.deepEqual(authHeaders("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0."), {
  Authorization: "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.",
});
assert.deepEqual(authHeaders("lsv2_sk_123"), { "x-api-key": "lsv2_sk_123" });
assert.deepEqual(authHeaders("a.b"), { "x-api-key": "a.b" });
assert.match(authProblem(401, false, "Missing bearer token"), /needs a token.*Token/);
assert.match(authProblem(401, true, "Unknown token"), /did not accept the token.*Unknown token/);
assert.match(authProblem(403, true, "Forbidden"), /not allowed.*Token/);
assert.equal(authProblem(404, true, "Not found"), null);
assert.equal(authProblem(500, false, ""), null);
console.log("token rules ok");
"""


def test_token_rules_of_the_served_module(stack: Stack, tmp_path: Path) -> None:
    """A ``Bearer …`` value or a JWT goes as ``Authorization``, anything else as ``x-api-key``;
    401 and 403 ask for a token."""
    served = tmp_path / "auth.mjs"
    served.write_text(_served(stack, "/ui/auth.js", JS))
    finished = subprocess.run(
        [_node(), "--input-type=module", "-e", TOKEN_RULES],
        env={**os.environ, "AGENTLIST_AUTH_JS": str(served)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "token rules ok" in finished.stdout


def test_the_page_keeps_the_token_out_of_urls_and_local_storage(stack: Stack) -> None:
    app = _served(stack, "/ui/app.js", JS)
    page = _served(stack, "/ui", "text/html; charset=utf-8")
    assert re.search(r'<input id="token" type="password"', page)
    assert "sessionStorage" in app and "localStorage" not in app
    # Streams go through fetch, which can send headers; EventSource cannot.
    assert "EventSource" not in app
    assert not re.search(
        r"location\.(search|hash|href)|URLSearchParams|pushState|replaceState", app
    )


# -- in a browser, on a server with custom auth ------------------------------------------------


async def test_the_studio_works_on_an_authenticated_server_once_given_a_token(
    auth_stack: Stack, tmp_path: Path
) -> None:
    alice = get_client(url=auth_stack.api_url, headers={"Authorization": "Bearer token-alice"})
    bob = get_client(url=auth_stack.api_url, headers={"Authorization": "Bearer token-bob"})
    # owner_auth.py hides what alice does not own, the graphs' own assistants included.
    await alice.assistants.create("agent", name="alice's agent")
    alices = (await alice.threads.create())["thread_id"]
    alices_second = (await alice.threads.create())["thread_id"]  # the same minute
    bobs = (await bob.threads.create())["thread_id"]
    threads_listed = "[...document.querySelectorAll('#threads button')].map(b => b.title)"
    labels = "[...document.querySelectorAll('#threads button code')].map(c => c.textContent)"
    checked_modes = "[...document.querySelectorAll('#modes input:checked')].map(b => b.value)"

    async with headless_chromium(tmp_path / "profile") as page:
        await page.call("Page.navigate", url=f"{auth_stack.api_url}/ui")
        asked = await eventually(
            lambda: page.text("#error"),
            lambda text: "needs a token" in text,
            within=BROWSER_PATIENCE,
            what="the Studio asking for a token",
        )
        assert "Missing bearer token" in asked

        await page.evaluate("document.getElementById('token').focus()")
        await page.call("Input.insertText", text="Bearer token-alice")
        await page.evaluate("document.querySelector('#token-form button').click()")
        listed = await eventually(
            lambda: page.evaluate(threads_listed),
            lambda titles: alices in titles,
            within=BROWSER_PATIENCE,
            what="alice's threads in the Studio",
        )
        assert bobs not in listed and alices_second in listed
        shown = await page.evaluate(labels)
        assert len(set(shown)) == len(shown) == len(listed), shown  # told apart at a glance
        assert await page.evaluate("document.getElementById('error').hidden") is True
        assert await page.evaluate("sessionStorage.getItem('agentlist.token')") == (
            "Bearer token-alice"
        )
        assert "token" not in await page.evaluate("location.href")

        # A run streams through fetch with the token, on alice's thread.
        await page.evaluate(
            f"document.querySelector('#threads button[title=\"{alices}\"]').click()"
        )
        await eventually(
            lambda: page.text("#thread-name"), lambda name: name == alices, within=BROWSER_PATIENCE
        )
        # The graph is picked once its schema is read: chat input and the messages mode set.
        await eventually(
            lambda: page.evaluate(checked_modes),
            lambda modes: "messages-tuple" in modes,
            within=BROWSER_PATIENCE,
            what="the Studio's chat graph",
        )
        await page.evaluate("document.getElementById('run').click()")
        status = await eventually(
            lambda: page.text("#run-status"),
            lambda text: text in ("done", "failed", "error"),
            within=BROWSER_PATIENCE,
            what="the Studio's run",
        )
        assert status == "done", await page.text("#error")
        assert "echo: hi" in await page.text("#ai")
    runs = await alice.runs.list(alices)
    assert len(runs) == 1 and runs[0]["status"] == "success"
