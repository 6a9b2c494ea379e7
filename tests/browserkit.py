"""A real browser in tests: Debian's headless Chromium, driven over the Chrome DevTools Protocol
(a websocket of JSON calls, answers and events), with no driver library in between."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from waitkit import eventually
from websockets.asyncio.client import ClientConnection, connect

CHROMIUM_INSTALL = "apt-get install -y --no-install-recommends chromium"
BROWSER_PATIENCE = 30.0


class Page:
    """One browser tab: calls and their answers, and the events of the domains enabled on it
    (kept in arrival order, read as they come in while waiting for an answer)."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._last_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        await self._socket.send(
            json.dumps({"id": self._last_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(await self._socket.recv())
            if message.get("id") == self._last_id:
                assert "error" not in message, (method, message["error"])
                result: dict[str, Any] = message["result"]
                return result
            if "method" in message:
                self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        answer = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in answer, (expression, answer["exceptionDetails"])
        return answer["result"].get("value")

    async def text(self, selector: str) -> str:
        """The element's text, or "" while it does not exist (the page may still be loading)."""
        found = await self.evaluate(f"document.querySelector({json.dumps(selector)})?.innerText")
        return str(found or "")

    def events_of(self, method: str) -> list[dict[str, Any]]:
        """The parameters of the events named ``method`` received so far."""
        return [event.get("params", {}) for event in self.events if event["method"] == method]

    async def enable(self, *domains: str) -> None:
        """Have the tab report the events of ``domains`` (``Runtime``, ``Log``, ``Network``)."""
        for domain in domains:
            await self.call(f"{domain}.enable")

    def console_errors(self) -> list[str]:
        """What the page reported as errors so far (``Runtime`` and ``Log`` enabled): its
        ``console.error`` and failed ``console.assert`` calls, exceptions nobody caught, and
        the browser's own error entries (a failed load, a refused script)."""
        errors = [
            " ".join(str(arg.get("value", arg.get("description", ""))) for arg in call["args"])
            for call in self.events_of("Runtime.consoleAPICalled")
            if call["type"] in ("error", "assert")
        ]
        errors += [
            thrown["exceptionDetails"].get("exception", {}).get("description")
            or thrown["exceptionDetails"]["text"]
            for thrown in self.events_of("Runtime.exceptionThrown")
        ]
        errors += [
            f"{entry['entry']['text']} ({entry['entry'].get('url', '')})"
            for entry in self.events_of("Log.entryAdded")
            if entry["entry"]["level"] == "error"
        ]
        return errors


@contextlib.asynccontextmanager
async def headless_chromium(profile: Path) -> AsyncIterator[Page]:
    chromium = shutil.which("chromium")
    assert chromium is not None, f"the browser test needs Chromium: `{CHROMIUM_INSTALL}`"
    browser = await asyncio.create_subprocess_exec(
        chromium,
        "--headless=new",
        "--no-sandbox",  # root in a container; the page is our own
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        await eventually(port_file.is_file, within=BROWSER_PATIENCE, what="Chromium's port")
        port = await eventually(
            lambda: port_file.read_text().split("\n", 1)[0].strip(),
            within=BROWSER_PATIENCE,
            what="Chromium's port number",
        )
        async with httpx.AsyncClient() as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        tab = next(target for target in targets if target["type"] == "page")
        async with connect(tab["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        browser.terminate()
        await asyncio.wait_for(browser.wait(), timeout=30)
