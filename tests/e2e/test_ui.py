"""Studio at ``/ui``: its page and assets as the API serves them (the modules checked by node,
the SSE parser unit-tested by ``node --test``, the token rules run by node), and the page itself
in headless Chromium driven over the DevTools protocol: a whole session as a user has it (pick a
graph, a new thread, a streamed reply, state and workers, an interrupt answered), with no
console error, and on a server with custom auth."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import nats
import pytest
from browserkit import BROWSER_PATIENCE, Page, headless_chromium
from langgraph_sdk import get_client
from waitkit import eventually

from agentlist.contracts import subjects
from agentlist.contracts.access import DEFAULT_TEAM
from agentlist.contracts.workers import (
    GraphInfo,
    PoolReply,
    PoolReport,
    RegisterReply,
    WorkerRegister,
)
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


# -- a session in a browser --------------------------------------------------------------------

# The registry's default: a worker silent this long is dead (the stack keeps the defaults).
DEAD_AFTER = 15.0
STUDIO_POLL = 5.0


@contextlib.asynccontextmanager
async def silent_worker(nats_url: str) -> AsyncIterator[str]:
    """A worker that registers and never beats again, as one killed would: the registry
    declares it dead. Its id is yielded, once the registry has accepted it."""
    worker = f"py-ui-silent-{uuid.uuid4().hex[:8]}"
    message = WorkerRegister(
        worker_id=worker,
        language="python",
        version="0.0.0",
        host="gone",
        pid=1,
        capacity=1,
        graphs=[GraphInfo(graph_id=f"silent_{uuid.uuid4().hex[:8]}")],
    )
    nc = await nats.connect(nats_url)
    try:
        subject = subjects.registry_register(DEFAULT_TEAM)
        reply = await nc.request(subject, message.model_dump_json().encode(), 5)
        assert RegisterReply.model_validate_json(reply.data).accepted
        yield worker
    finally:
        await nc.drain()


@contextlib.asynccontextmanager
async def reporting_pool(nats_url: str, worker_id: str) -> AsyncIterator[str]:
    """A pool of the default team reporting as ``agentlist pool`` does (every half second),
    with ``worker_id`` as its child, while the block runs. Its id is yielded."""
    report = PoolReport(
        pool_id=f"ui-pool-{uuid.uuid4().hex[:8]}",
        graphs=["agent"],
        minimum=1,
        maximum=4,
        target=3,
        workers=[worker_id],
        reason="scale out: 5 pending, 1 free slot",
    )
    nc = await nats.connect(nats_url)

    async def keep_reporting() -> None:
        while True:
            answer = await nc.request(
                subjects.registry_pool(DEFAULT_TEAM), report.model_dump_json().encode(), 5
            )
            PoolReply.model_validate_json(answer.data)
            await asyncio.sleep(0.5)  # the pool's own pace, not a wait for an outcome

    reporting = asyncio.create_task(keep_reporting())
    try:
        yield report.pool_id
    finally:
        reporting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporting
        await nc.drain()


async def _system_assistant(sdk: Any, graph_id: str) -> str:
    found = await sdk.assistants.search(graph_id=graph_id, metadata={"created_by": "system"})
    assert len(found) == 1, found
    return str(found[0]["assistant_id"])


async def _click(page: Page, selector: str) -> None:
    """Click the element once it is there and enabled (the page may still be loading)."""
    target = json.dumps(selector)
    await eventually(
        lambda: page.evaluate(f"(e => !!e && !e.disabled)(document.querySelector({target}))"),
        within=BROWSER_PATIENCE,
        what=f"{selector} to click",
        context=lambda: "\n".join(page.console_errors()),
    )
    await page.evaluate(f"document.querySelector({target}).click()")


async def _type(page: Page, selector: str, text: str) -> None:
    """Replace the field's text as a user would: focus, select all, type."""
    await page.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
    await page.call("Input.insertText", text=text)


async def _shows(page: Page, selector: str, wanted: str | None = None) -> str:
    """The element's text once it is non-empty (and has ``wanted`` in it, if given)."""
    return await eventually(
        lambda: page.text(selector),
        lambda text: bool(text) and (wanted is None or wanted in text),
        within=BROWSER_PATIENCE,
        what=f"{wanted!r} in {selector}" if wanted else f"text in {selector}",
        context=lambda: "\n".join(page.console_errors()),
    )


async def _run_ends(page: Page) -> str:
    return await eventually(
        lambda: page.text("#run-status"),
        lambda text: text in ("done", "interrupted", "failed", "error", "cancelled"),
        within=BROWSER_PATIENCE,
        what="the Studio's run to end",
    )


async def _pick_graph(page: Page, assistant_id: str, graph_id: str) -> None:
    await _click(page, f'#assistants button[data-id="{assistant_id}"]')
    await eventually(
        lambda: page.text("#graph-name"), lambda name: name == graph_id, within=BROWSER_PATIENCE
    )
    # Its drawing and input schema are read from the API.
    await eventually(
        lambda: page.evaluate("document.querySelectorAll('#graph svg .node').length"),
        lambda nodes: nodes >= 3,
        within=BROWSER_PATIENCE,
        what=f"the drawing of {graph_id}",
    )


async def _new_thread(page: Page, previous: str) -> str:
    await _click(page, "#new-thread")
    return await eventually(
        lambda: page.text("#thread-name"),
        lambda name: bool(name) and name != previous,
        within=BROWSER_PATIENCE,
        what="the new thread shown",
    )


async def test_a_studio_session_with_a_chat_an_interrupt_answered_and_the_workers(
    stack: Stack, sdk: Any, tmp_path: Path
) -> None:
    agent = await _system_assistant(sdk, "agent")
    asks = await _system_assistant(sdk, "interrupts")
    live_rows = (
        "[...document.querySelectorAll('#workers tbody tr[data-id]')].map(r => r.dataset.id)"
    )
    dead_rows = (
        "[...document.querySelectorAll('#dead-workers tbody tr[data-id]')].map(r => r.dataset.id)"
    )
    checked_modes = "[...document.querySelectorAll('#modes input:checked')].map(b => b.value)"

    async with silent_worker(stack.nats_url) as silent, headless_chromium(tmp_path / "p") as page:
        await page.enable("Runtime", "Log")
        await page.call("Page.navigate", url=f"{stack.api_url}/ui")

        # A chat graph: its input is a message, its reply streams as message chunks.
        await _pick_graph(page, agent, "agent")
        assert "messages" in await _shows(page, "#schema")
        assert "messages-tuple" in await page.evaluate(checked_modes)
        chat = await _new_thread(page, previous="")
        await _click(page, "#run")
        assert await _run_ends(page) == "done", await page.text("#error")
        assert "echo: hi" in await _shows(page, "#ai")
        assert "echo: hi" in await _shows(page, "#state", "echo: hi")
        assert await page.evaluate("document.querySelectorAll('#history li').length") >= 2
        assert (await sdk.threads.get_state(chat))["values"]["messages"][-1]["content"] == (
            "echo: hi"
        )

        # A graph that asks: the run stops on interrupt(), the Studio shows the question and
        # sends the answer back as Command(resume=...).
        await _pick_graph(page, asks, "interrupts")
        asking = await _new_thread(page, previous=chat)
        await _type(page, "#input", json.dumps({"question": "What is your name?"}))
        await _click(page, "#run")
        assert await _run_ends(page) == "interrupted", await page.text("#error")
        assert await page.evaluate("document.getElementById('interrupt').hidden") is False
        assert await _shows(page, "#interrupts pre") == "What is your name?"
        await _type(page, "#interrupts textarea", "Ada")
        await _click(page, "#resume")
        assert await _run_ends(page) == "done", await page.text("#error")
        assert '"answer": "Ada"' in await _shows(page, "#state", '"answer"')
        assert await page.evaluate("document.getElementById('interrupt').hidden") is True
        state = await sdk.threads.get_state(asking)
        assert state["values"] == {"question": "What is your name?", "answer": "Ada"}
        assert state["next"] == []
        resumed, first = await sdk.runs.list(asking)  # newest first
        assert first["kwargs"]["input"] == {"question": "What is your name?"}
        assert resumed["kwargs"]["command"] == {"resume": "Ada"}
        assert resumed["kwargs"]["input"] is None

        # Back to the chat thread: it shows its own graph again, and its reply.
        await _click(page, f'#threads button[title="{chat}"]')
        await eventually(
            lambda: page.text("#graph-name"), lambda name: name == "agent", within=BROWSER_PATIENCE
        )
        assert "echo: hi" in await _shows(page, "#state", "echo: hi")
        assert await page.evaluate("document.getElementById('interrupt').hidden") is True

        # Workers: the live ones in the table, the silent one apart once the registry calls it
        # dead (the Studio polls every few seconds).
        await eventually(
            lambda: page.evaluate(live_rows), within=BROWSER_PATIENCE, what="live workers"
        )
        await eventually(
            lambda: page.evaluate(dead_rows),
            lambda rows: silent in rows,
            within=DEAD_AFTER + STUDIO_POLL + BROWSER_PATIENCE,
            what="the silent worker among the dead ones",
        )
        assert silent not in await page.evaluate(live_rows)
        assert "healthy" in await page.text("#workers tbody")
        await _click(page, "#dead-workers summary")
        dead_box = await _shows(page, "#dead-workers", "Dead workers")
        assert "no heartbeat" in dead_box and silent[-8:] in dead_box

        # Pools: a pool that reports shows its size against its target and bounds, and why.
        pool_rows = (
            "[...document.querySelectorAll('#pools tbody tr[data-id]')].map(r => r.dataset.id)"
        )
        async with reporting_pool(stack.nats_url, silent) as pool_id:
            await eventually(
                lambda: page.evaluate(pool_rows),
                lambda rows: f"{DEFAULT_TEAM}/{pool_id}" in rows,
                within=STUDIO_POLL + BROWSER_PATIENCE,
                what="the pool in the Studio",
            )
            assert await page.evaluate("document.getElementById('pools-section').hidden") is False
            row = await _shows(page, f'#pools tr[data-id="{DEFAULT_TEAM}/{pool_id}"]', "scale out")
            assert pool_id[-8:] in row and "1 → 3 (1-4)" in row
            assert "scale out: 5 pending, 1 free slot" in row

        assert page.console_errors() == []
