"""The probes of the services without an HTTP API (scheduler, registry, bridge, workers), as
Kubernetes and Compose call them: alive while the process runs, ready only when it can work."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waitkit import eventually, run_reaches

from agentlist.launcher import Stack
from agentlist.launcher.graphs import split_by_language
from agentlist.launcher.process import ChildProcess, free_port

GRAPHS = Path(__file__).resolve().parents[1] / "graphs"


def _status(port: int, path: str) -> int:
    """The probe's status code; 0 while nothing listens on the port yet."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code
    except urllib.error.URLError:
        return 0


def _answers(port: int, path: str, status: int) -> Callable[[], bool]:
    return lambda: _status(port, path) == status


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
        return received


@pytest.fixture
def stopped_at_end(servers: Stack) -> Iterator[list[ChildProcess]]:
    started: list[ChildProcess] = []
    yield started
    for child in started:
        child.stop()
        servers.services.remove(child)


async def test_a_service_is_alive_before_its_servers_answer_and_ready_once_they_do(
    servers: Stack, stopped_at_end: list[ChildProcess]
) -> None:
    nowhere, port = free_port(), free_port()
    waiting = servers.start_service(
        "scheduler",
        name="scheduler-probed-waiting",
        env={
            "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{nowhere}/postgres",
            "AGENTLIST_SCHEDULER_HEALTH_PORT": str(port),
        },
    )
    stopped_at_end.append(waiting)
    await eventually(lambda: _status(port, "/livez") == 200, within=60, what="alive while waiting")
    assert _status(port, "/readyz") == 503  # Postgres does not answer: no work, no restart

    for kind in ("registry", "bridge"):
        probed = free_port()
        child = servers.start_service(
            kind, env={f"AGENTLIST_{kind.upper()}_HEALTH_PORT": str(probed)}
        )
        stopped_at_end.append(child)
        await eventually(_answers(probed, "/readyz", 200), within=60, what=f"{kind} ready")
        assert _status(probed, "/livez") == 200


async def test_a_worker_is_ready_once_registered_and_not_while_it_drains(
    stack: Stack, sdk: Any, tmp_path: Path
) -> None:
    config = tmp_path / "langgraph.json"
    config.write_text(
        json.dumps(
            {"dependencies": [str(GRAPHS)], "graphs": {"probed": f"{GRAPHS}/graphs.py:slow"}}
        )
    )
    port = free_port()
    worker = stack.start_worker(config, env={"AGENTLIST_WORKER_HEALTH_PORT": str(port)})
    try:
        await eventually(lambda: _status(port, "/readyz") == 200, within=60, what="registered")
        thread = await sdk.threads.create()
        run = await sdk.runs.create(thread["thread_id"], "probed", input={"delay": 0.5, "total": 4})
        await run_reaches(sdk, thread["thread_id"], run["run_id"], "running")

        os.kill(worker.pid, signal.SIGTERM)  # drains: finishes its run, takes no other
        await eventually(
            lambda: _status(port, "/readyz") == 503, within=10, what="not ready, draining"
        )
        assert _status(port, "/livez") == 200
        await run_reaches(sdk, thread["thread_id"], run["run_id"], "success")
        await eventually(lambda: not worker.alive(), within=30, what="the drained worker exits")
    finally:
        worker.stop()
        stack.services.remove(worker)


async def test_the_probe_port_serves_nothing_else(
    servers: Stack, stopped_at_end: list[ChildProcess]
) -> None:
    port = free_port()
    registry = servers.start_service("registry", env={"AGENTLIST_REGISTRY_HEALTH_PORT": str(port)})
    stopped_at_end.append(registry)
    await eventually(_answers(port, "/readyz", 200), within=60, what="registry ready")
    assert _status(port, "/metrics") == 404
    assert _status(port, "/") == 404
    assert _raw(port, b"POST /livez HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 405 ")
    assert _raw(port, b"\x16\x03\x01 not http\r\n").startswith(b"HTTP/1.1 400 ")
    assert _raw(port, b"GET /" + b"a" * 4096 + b" HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 414 ")
    # The answer says whether the process is up, and nothing of the mesh.
    assert _raw(port, b"GET /readyz HTTP/1.1\r\n\r\n").endswith(b"\r\n\r\nok\n")


async def test_a_javascript_worker_serves_the_same_probes(stack: Stack, tmp_path: Path) -> None:
    config = split_by_language(GRAPHS / "js" / "langgraph.json", tmp_path)["javascript"]
    port = free_port()
    worker = stack.start_js_worker(config, env={"AGENTLIST_WORKER_HEALTH_PORT": str(port)})
    try:
        await eventually(_answers(port, "/readyz", 200), within=60, what="JS worker registered")
        assert _status(port, "/livez") == 200
        assert _status(port, "/metrics") == 404
        os.kill(worker.pid, signal.SIGTERM)  # idle: it drains at once, then exits
        await eventually(lambda: not worker.alive(), within=30, what="the JS worker exits")
    finally:
        worker.stop()
        stack.services.remove(worker)
