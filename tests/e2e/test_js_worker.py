"""LangGraph.js graphs on the mesh, driven by the official ``langgraph-sdk`` (issue 5).

One stack serves a mixed ``langgraph.json`` (tests/graphs/js/langgraph.json): each JS graph of
tests/graphs/js has a Python twin from tests/graphs, and the launcher gives each language's
graphs to two workers of that language. Every scenario runs on both twins and compares what a
client sees, with ids and timestamps blanked: a client must not be able to tell which language
ran a run except from ``GET /workers``. On a stack of its own, one of the two JS workers is
killed (``kill -9``) in the middle of a run, which the other one finishes.

``agentlist dev --config`` with a JS-only config runs first, on the session's servers, before
the module's stack starts (two cores).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import pytest_asyncio
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError
from processkit import descendants, still_running
from serverkit import own_servers_in_thread, services_on
from waitkit import eventually, run_reaches

from agentlist.launcher import Stack
from agentlist.launcher.jsworker import js_worker_problem
from agentlist.launcher.process import free_port

JS_GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "js"
MIXED_CONFIG = JS_GRAPHS / "langgraph.json"
DEV_CONFIG = JS_GRAPHS / "langgraph.dev.json"
AGENTLIST = Path(sys.executable).parent / "agentlist"

PY, JS = "js_e2e_py_", "js_e2e_"
"""Graph id prefixes: ``js_e2e_py_agent`` (Python) is the twin of ``js_e2e_agent`` (JS)."""
TWINS = ("agent", "custom", "interrupts", "slow", "memory")
PY_GRAPHS = {PY + name for name in TWINS}
JS_GRAPHS_IDS = {JS + name for name in TWINS}

HELLO: Any = {"messages": [{"role": "user", "content": "hello there"}]}
CALL_TIMEOUT = 30.0
HTTP_TIMEOUT = 20.0

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PYTHON_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00$")
OPAQUE = {"id", "run_id", "thread_id", "assistant_id", "checkpoint_id", "parent_checkpoint_id"}
"""Values that differ from run to run (message ids: ``lc_run--…`` in Python, ``run-…`` in JS)."""
LIBRARY_KEYS = {"ls_provider", "lc_versions", "versions", "chunk_position"}
"""What LangChain itself reports differently in each language: the fake chat model's provider
name, its own version (``lc_versions`` / ``versions``), and ``chunk_position``, which only
LangChain Python sets (``"last"`` on a stream's final chunk)."""


def test_the_js_worker_can_start_here() -> None:
    """These tests need `npm ci --prefix services/worker-js` (the README's set-up does it)."""
    assert js_worker_problem() is None, js_worker_problem()


# -- comparing what clients see ----------------------------------------------------------------


def shape(value: Any, key: str | None = None) -> Any:
    """``value`` with run-specific ids blanked, timestamps checked for Python's format, the
    graph prefixes made equal, and LangChain's own per-language fields dropped."""
    if isinstance(value, dict):
        return {_text(k): shape(v, k) for k, v in value.items() if k not in LIBRARY_KEYS}
    if isinstance(value, list | tuple):
        return [shape(item) for item in value]
    if isinstance(value, str):
        if key in OPAQUE:
            return "<id>"
        if key is not None and key.endswith("_at") and PYTHON_TIME.match(value):
            return "<time>"
        return _text(value)
    return value


def _text(text: str) -> str:
    return UUID.sub("<uuid>", text.replace(PY, JS))


def assert_alike(javascript: Any, python: Any) -> None:
    """What the JS twin's client saw is what the Python twin's client saw."""
    js, py = shape(javascript), shape(python)
    assert js == py, f"JS and Python differ at {difference(js, py)}"


def difference(js: Any, py: Any, path: str = "") -> str:
    """The first place where two shapes differ, as ``path: js != py``."""
    if isinstance(js, dict) and isinstance(py, dict):
        for key in [*py, *(k for k in js if k not in py)]:
            if key not in js or key not in py:
                return f"{path}.{key}: {js.get(key, '<missing>')!r} != {py.get(key, '<missing>')!r}"
            if js[key] != py[key]:
                return difference(js[key], py[key], f"{path}.{key}")
    if isinstance(js, list | tuple) and isinstance(py, list | tuple) and len(js) == len(py):
        for index, (left, right) in enumerate(zip(js, py, strict=True)):
            if left != right:
                return difference(left, right, f"{path}[{index}]")
    return f"{path}: {js!r} != {py!r}"


# -- fixtures and helpers -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def mixed_stack(servers: Stack, data_dir: Path, log_dir: Path) -> AsyncIterator[Stack]:
    """Python and JS graphs in one config: two workers of each language, once all serve."""
    options: dict[str, object] = {"graphs_config": MIXED_CONFIG, "workers": 2}
    with services_on(servers, data_dir, log_dir, **options) as stack:
        client = get_client(url=stack.api_url, timeout=HTTP_TIMEOUT)
        await eventually(
            lambda: our_languages(client),
            lambda languages: languages == ["javascript", "javascript", "python", "python"],
            within=60,
            every=0.1,
            what="two healthy workers of each language",
        )
        yield stack


@pytest_asyncio.fixture(scope="module")
async def mixed(
    servers: Stack, log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    data_dir = tmp_path_factory.mktemp("js-stack")
    async with mixed_stack(servers, data_dir, log_dir / "js-stack") as stack:
        yield stack


def ours(workers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The healthy workers serving this module's graphs (other stacks share the servers)."""
    graphs = PY_GRAPHS | JS_GRAPHS_IDS
    return [w for w in workers if w["state"] == "healthy" and graphs & set(w["graphs"])]


@pytest.fixture
def client(mixed: Stack) -> Any:
    return get_client(url=mixed.api_url, timeout=HTTP_TIMEOUT)


async def new_thread(client: Any) -> str:
    thread_id: str = (await client.threads.create())["thread_id"]
    return thread_id


async def stream(client: Any, thread_id: str, graph_id: str, **kwargs: Any) -> list[Any]:
    async with asyncio.timeout(CALL_TIMEOUT):
        return [
            (part.event, part.data)
            async for part in client.runs.stream(thread_id, graph_id, **kwargs)
        ]


async def both(work: Any, name: str) -> tuple[Any, Any]:
    """``work(graph_id)`` on the Python twin and the JS twin, at the same time."""
    python, javascript = await asyncio.gather(work(PY + name), work(JS + name))
    return python, javascript


async def wait_steps(client: Any, thread_id: str, at_least: int, within: float = 30) -> None:
    """Until the thread's latest checkpoint holds ``at_least`` finished slow steps."""

    async def steps() -> list[Any]:
        return (await client.threads.get_state(thread_id))["values"].get("steps") or []

    await eventually(
        steps,
        lambda done: len(done) >= at_least,
        within=within,
        every=0.1,
        what=f"{at_least} steps checkpointed",
    )


async def our_workers(client: Any) -> list[dict[str, Any]]:
    return ours(await client.http.get("/workers"))


async def our_languages(client: Any) -> list[str]:
    return sorted(worker["language"] for worker in await our_workers(client))


# -- agentlist dev with a JS config ------------------------------------------------------------


def _health_graphs(url: str) -> list[str]:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            graphs = orjson.loads(response.read()).get("graphs")
    except (OSError, ValueError):
        return []
    return graphs if isinstance(graphs, list) else []


async def test_agentlist_dev_serves_a_js_config(servers: Stack, log_dir: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "NATS_URL": servers.nats_url,
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "AGENTLIST_HEARTBEAT_INTERVAL": "0.5",
        "AGENTLIST_LEASE_SECONDS": "3",
    }
    log_path = log_dir / "agentlist-dev-js.log"
    argv = [str(AGENTLIST), "dev", "--config", str(DEV_CONFIG), "--port", str(port)]
    with log_path.open("ab") as log:
        dev = subprocess.Popen(  # noqa: ASYNC220 - started once, then only polled
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def served_graphs() -> list[str]:
        assert dev.poll() is None, f"agentlist dev exited:\n{log_path.read_text()[-3000:]}"
        return _health_graphs(url)

    children: dict[int, str] = {}
    try:
        await eventually(
            served_graphs,
            lambda graphs: "js_dev_agent" in graphs,
            within=90,
            every=0.25,
            what="agentlist dev serving js_dev_agent",
            context=lambda: log_path.read_text()[-3000:],
        )
        client = get_client(url=url, timeout=HTTP_TIMEOUT)
        thread_id = await new_thread(client)
        async with asyncio.timeout(CALL_TIMEOUT):
            values: Any = await client.runs.wait(thread_id, "js_dev_agent", input=HELLO)
        assert values["messages"][-1]["content"] == "echo: hello there"
        workers = [
            w
            for w in await client.http.get("/workers")
            if "js_dev_agent" in w["graphs"] and w["state"] == "healthy"
        ]
        assert [w["language"] for w in workers] == ["javascript"]
        children = descendants(dev.pid)
        assert workers[0]["pid"] in children
        names = " ".join(children.values())
        assert "agentlist-worker" in names and "-m agentlist.api" in names
        assert "-m agentlist.worker" not in names, "a JS-only config starts no Python worker"
    finally:
        if dev.poll() is None:
            dev.send_signal(signal.SIGINT)  # what Ctrl-C does
        try:
            await asyncio.to_thread(dev.wait, 60)
        except subprocess.TimeoutExpired:
            dev.kill()
            raise
    assert dev.returncode == 0, log_path.read_text()[-3000:]
    assert children, "agentlist dev started no child processes"
    left = [cmd for pid, cmd in children.items() if still_running(pid, cmd)]
    assert not left, f"children outlived agentlist dev: {left}"


# -- one mesh, two languages -------------------------------------------------------------------


async def test_workers_of_both_languages_serve_their_own_graphs(client: Any) -> None:
    workers = await our_workers(client)
    by_language: dict[str, list[set[str]]] = {}
    for worker in workers:
        by_language.setdefault(worker["language"], []).append(set(worker["graphs"]))
    assert by_language == {
        "python": [PY_GRAPHS, PY_GRAPHS],
        "javascript": [JS_GRAPHS_IDS, JS_GRAPHS_IDS],
    }
    javascript = next(w for w in workers if w["language"] == "javascript")
    assert javascript["runtime"]["node"] and javascript["runtime"]["langgraph"]


async def test_a_python_and_a_js_graph_run_side_by_side(client: Any) -> None:
    async def run(graph_id: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        thread_id = await new_thread(client)
        run = await client.runs.create(thread_id, graph_id, input=HELLO)
        finished = await run_reaches(client, thread_id, run["run_id"], "success", "error")
        return finished, await client.threads.get(thread_id), run

    (py_run, py_thread, _), (js_run, js_thread, _) = await both(run, "agent")
    assert py_run["status"] == js_run["status"] == "success"
    assert py_thread["values"]["messages"][-1]["content"] == "echo: hello there"
    assert js_thread["values"]["messages"][-1]["content"] == "echo: hello there"
    assert_alike(js_run, py_run)
    assert_alike(js_thread, py_thread)


async def test_js_graphs_have_assistants_schemas_and_drawable_graphs(client: Any) -> None:
    async def describe(graph_id: str) -> tuple[Any, Any, Any, Any]:
        [assistant] = await client.assistants.search(
            graph_id=graph_id, metadata={"created_by": "system"}
        )
        assistant_id = assistant["assistant_id"]
        return (
            assistant,
            await client.assistants.get_schemas(assistant_id),
            await client.assistants.get_graph(assistant_id),
            await client.assistants.get_subgraphs(assistant_id),
        )

    py, js = await both(describe, "agent")
    assert_alike(js[0], py[0])
    py_schemas, js_schemas = py[1], js[1]
    assert set(js_schemas) == set(py_schemas)
    for key in ("input_schema", "output_schema", "state_schema"):
        assert js_schemas[key]["type"] == "object"
        assert set(js_schemas[key]["properties"]) == {"messages", "turns"}
        assert set(py_schemas[key]["properties"]) == {"messages", "turns"}
    py_graph, js_graph = py[2], js[2]
    assert js_graph["edges"] == py_graph["edges"]
    assert [n["id"] for n in js_graph["nodes"]] == [n["id"] for n in py_graph["nodes"]]
    for py_node, js_node in zip(py_graph["nodes"][1:-1], js_graph["nodes"][1:-1], strict=True):
        assert set(js_node) == set(py_node) and js_node["type"] == py_node["type"] == "runnable"
        assert js_node["data"]["name"] == py_node["data"]["name"]
    assert py[3] == js[3] == {}


async def test_streams_match_the_python_twin(client: Any) -> None:
    modes = ["values", "updates", "messages-tuple", "custom"]

    async def chat(graph_id: str) -> list[Any]:
        return await stream(
            client, await new_thread(client), graph_id, input=HELLO, stream_mode=modes
        )

    py, js = await both(chat, "agent")
    assert [event for event, _ in js] == [event for event, _ in py]
    assert_alike(js, py)
    tokens = [data for event, data in js if event == "messages"]
    assert "".join(chunk["content"] for chunk, _ in tokens) == "echo: hello there"
    chunk, metadata = tokens[0]
    assert chunk["type"] == "AIMessageChunk" and chunk["id"]
    assert metadata["langgraph_node"] == "respond" and metadata["graph_id"] == JS + "agent"
    final = [data for event, data in js if event == "values"][-1]
    human, ai = final["messages"]
    assert (human["type"], human["content"]) == ("human", "hello there") and human["id"]
    assert (ai["type"], ai["content"]) == ("ai", "echo: hello there") and ai["id"]

    async def progress(graph_id: str) -> list[Any]:
        modes = ["values", "updates", "custom"]
        return await stream(client, await new_thread(client), graph_id, input={}, stream_mode=modes)

    py, js = await both(progress, "custom")
    assert_alike(js, py)
    assert [data for event, data in js if event == "custom"] == [{"progress": i} for i in range(3)]


async def test_thread_state_and_history_match_the_python_twin(client: Any) -> None:
    async def two_turns(graph_id: str) -> tuple[Any, Any, Any, Any]:
        thread_id = await new_thread(client)
        async with asyncio.timeout(CALL_TIMEOUT):
            await client.runs.wait(thread_id, graph_id, input=HELLO)
            second = {"messages": [{"role": "user", "content": "again"}]}
            values = await client.runs.wait(thread_id, graph_id, input=second)
        state = await client.threads.get_state(thread_id)
        history = await client.threads.get_history(thread_id, limit=20)
        return values, state, history, await client.threads.get(thread_id)

    py, js = await both(two_turns, "agent")
    values, state, history, thread = js
    assert [m["content"] for m in values["messages"]] == [
        "hello there",
        "echo: hello there",
        "again",
        "echo: again",
    ]
    assert values["turns"] == 2 and state["values"] == values and thread["values"] == values
    assert state["metadata"]["graph_id"] == JS + "agent" and "thread_id" not in state["metadata"]
    assert [h["next"] for h in history[:4]] == [[], ["respond"], ["prepare"], ["__start__"]]
    assert history[0]["checkpoint_id"] == state["checkpoint_id"]
    for python, javascript in zip(py, js, strict=True):
        assert_alike(javascript, python)


async def test_interrupt_then_resume_matches_the_python_twin(client: Any) -> None:
    async def ask(graph_id: str) -> tuple[Any, ...]:
        thread_id = await new_thread(client)
        parts = await stream(
            client,
            thread_id,
            graph_id,
            input={"question": "ship it?"},
            stream_mode=["values", "updates"],
        )
        asked = await client.threads.get_state(thread_id)
        thread = await client.threads.get(thread_id)
        resumed = await stream(
            client,
            thread_id,
            graph_id,
            command={"resume": "yes"},
            stream_mode=["values", "updates"],
        )
        done = await client.threads.get_state(thread_id)
        return parts, asked, thread, resumed, done, await client.threads.get(thread_id)

    py, js = await both(ask, "interrupts")
    parts, asked, thread, resumed, done, after = js
    [interrupt] = [data for event, data in parts if event == "updates"][-1]["__interrupt__"]
    assert interrupt["value"] == "ship it?" and interrupt["id"]
    assert asked["next"] == ["ask"] and asked["interrupts"] == [interrupt]
    assert asked["tasks"][0]["interrupts"] == [interrupt]
    assert thread["status"] == "interrupted"
    assert list(thread["interrupts"].values()) == [[interrupt]]
    assert resumed[-1] == ("values", {"question": "ship it?", "answer": "yes"})
    assert done["next"] == [] and after["status"] == "idle"
    assert_alike(parts, py[0])
    for python, javascript in zip(py[1:], js[1:], strict=True):
        assert_alike(javascript, python)


async def test_cancel_and_rollback_match_the_python_twin(client: Any) -> None:
    slow = {"delay": 0.3, "total": 100}

    async def cancel(graph_id: str) -> tuple[Any, ...]:
        thread_id = await new_thread(client)
        run = await client.runs.create(thread_id, graph_id, input=slow)
        await wait_steps(client, thread_id, 1)
        await client.runs.cancel(thread_id, run["run_id"], wait=True)
        stopped = await run_reaches(client, thread_id, run["run_id"], "interrupted", "success")
        kept = await client.threads.get_state(thread_id)

        doomed = await client.runs.create(thread_id, graph_id, input=None)
        await wait_steps(client, thread_id, len(kept["values"]["steps"]) + 1)
        await client.runs.cancel(thread_id, doomed["run_id"], action="rollback", wait=True)
        with pytest.raises(NotFoundError):
            await client.runs.get(thread_id, doomed["run_id"])
        after = await client.threads.get_state(thread_id)
        return stopped, kept, after, await client.threads.get(thread_id)

    py, js = await both(cancel, "slow")
    stopped, kept, after, thread = js
    assert stopped["status"] == "interrupted"
    assert 0 < len(kept["values"]["steps"]) < 100
    assert after["checkpoint_id"] == kept["checkpoint_id"] and after["values"] == kept["values"]
    assert after["next"] == ["step"] and thread["status"] == py[3]["status"]
    # Each twin was stopped after its own number of steps.
    for python, javascript in zip(py, js, strict=True):
        for value in (python, javascript):
            if "values" in value:
                value["values"]["steps"] = "<steps>"
            if isinstance(value.get("metadata"), dict) and "step" in value["metadata"]:
                value["metadata"]["step"] = "<step>"
        assert_alike(javascript, python)


async def test_js_and_python_graphs_and_clients_share_the_store(client: Any) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"

    async def remember(graph_id: str, note: str) -> Any:
        async with asyncio.timeout(CALL_TIMEOUT):
            return await client.runs.wait(None, graph_id, input={"user": user, "note": note})

    await client.store.put_item(["memories", user], "note", {"text": f"{user} by the client"})
    first = await remember(JS + "memory", f"{user} by JS")
    assert first["recalled"] == {"text": f"{user} by the client"}
    second = await remember(PY + "memory", f"{user} by Python")
    assert second["recalled"] == {"text": f"{user} by JS"}
    third = await remember(JS + "memory", "")
    assert third["recalled"] == {"text": f"{user} by Python"}
    item = await client.store.get_item(["memories", user], "note")
    assert item["value"] == {"text": f"{user} by Python"}
    assert item["namespace"] == ["memories", user]
    found = await client.store.search_items(["memories"], filter={"text": f"{user} by Python"})
    assert [i["namespace"] for i in found["items"]] == [["memories", user]]
    listed = await client.store.list_namespaces(prefix=["memories", user])
    assert listed == {"namespaces": [["memories", user]]}


async def test_kill_9_of_a_js_worker_mid_run_fails_over(
    log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On a stack and servers of its own: it leaves its stack with one JS worker, and the
    module's stack must keep both (the tests run in any order)."""
    async with (
        own_servers_in_thread() as servers,
        mixed_stack(servers, tmp_path_factory.mktemp("js-kill"), log_dir / "js-kill") as mixed,
    ):
        client = get_client(url=mixed.api_url, timeout=HTTP_TIMEOUT)
        pg_pool = await asyncpg.create_pool(mixed.database_url, min_size=1, max_size=2)
        try:
            await kill_9_mid_run(mixed, client, pg_pool)
        finally:
            await pg_pool.close()


async def kill_9_mid_run(mixed: Stack, client: Any, pg_pool: asyncpg.Pool) -> None:
    thread_id = await new_thread(client)
    total = 8
    run = await client.runs.create(
        thread_id, JS + "slow", input={"delay": 0.4, "total": total}, stream_resumable=True
    )
    run_id = run["run_id"]
    await wait_steps(client, thread_id, 2)
    row = await pg_pool.fetchrow(
        "SELECT worker_id, attempt, status FROM runs WHERE run_id = $1::uuid", run_id
    )
    assert row is not None and (row["status"], row["attempt"]) == ("running", 1)
    holder = next(w for w in await our_workers(client) if w["worker_id"] == row["worker_id"])
    assert holder["language"] == "javascript" and holder["inflight"] == 1
    [victim] = [child for child in mixed.services if child.pid == holder["pid"]]
    assert victim.name.startswith("worker-js")
    victim.kill()

    finished = await run_reaches(client, thread_id, run_id, "success", "error", within=40)
    assert finished["status"] == "success"
    row = await pg_pool.fetchrow(
        "SELECT worker_id, attempt FROM runs WHERE run_id = $1::uuid", run_id
    )
    assert row is not None and row["attempt"] == 2 and row["worker_id"] != holder["worker_id"]
    survivors = {w["worker_id"]: w["language"] for w in await our_workers(client)}
    assert survivors[row["worker_id"]] == "javascript"
    values = (await client.threads.get_state(thread_id))["values"]
    assert values["steps"] == list(range(1, total + 1)), "resumed from its checkpoint, once"
    parts = [p async for p in client.runs.join_stream(thread_id, run_id, last_event_id="-1")]
    attempts = [p.data["attempt"] for p in parts if p.event == "metadata"]
    assert attempts == [1, 2]
