"""``agentlist dev`` as a newcomer runs it (issue 12): refusals before anything starts, state kept
across a restart, and Ctrl-C twice.

Each test runs the real command as a subprocess, in a project folder of its own under the
system's temp folder (Postgres runs as ``nobody`` when the suite is root, and pytest's own
folders are private), and stops it with SIGINT, as Ctrl-C does.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from devkit import AGENTLIST, Dev, newcomer_env
from langgraph_sdk import get_client
from processkit import descendants
from waitkit import eventually, run_reaches

from agentlist.launcher.process import free_port

TEST_GRAPHS = Path(__file__).resolve().parents[1] / "graphs" / "graphs.py"
PROJECT_CONFIG = '{"dependencies": ["."], "graphs": {"chat": "./graphs.py:agent",' \
    ' "dev_cli_slow": "./graphs.py:slow"}}'  # fmt: skip
REFUSAL_WITHIN = 15.0
"""A refusal comes before any server starts: the CLI's imports and the checks only."""
CONFIG = ("--config", "langgraph.json")
HELLO: dict[str, Any] = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def project() -> Iterator[Path]:
    """A folder with a langgraph.json serving the test suite's chat and slow graphs."""
    folder = Path(tempfile.mkdtemp(prefix="agentlist-dev-cli-"))
    folder.chmod(0o755)
    shutil.copy(TEST_GRAPHS, folder / "graphs.py")
    (folder / "langgraph.json").write_text(PROJECT_CONFIG)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def refusal(folder: Path, *args: str) -> tuple[int, str, str, float]:
    """Run ``agentlist dev`` in ``folder``, expected to refuse: code, stdout, stderr, seconds."""
    started = time.monotonic()
    done = subprocess.run(
        [str(AGENTLIST), "dev", *args],
        cwd=folder,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=REFUSAL_WITHIN * 2,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


def assert_refused(result: tuple[int, str, str, float], *names: str) -> str:
    """Exit 2 quickly, one line on stderr naming each of ``names``, no banner, no traceback."""
    code, out, err, seconds = result
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert all(name in lines[0] for name in names), (names, lines[0])
    assert "Traceback" not in err and "ready" not in out
    assert seconds < REFUSAL_WITHIN, f"refused after {seconds:.1f}s"
    return lines[0]


# -- (a) a config that cannot be served ----------------------------------------------------

BAD_CONFIGS = {
    "invalid_json": ('{"graphs": {"chat": ', {}, "invalid JSON"),
    "python_file_missing": ('{"graphs": {"chat": "./nowhere.py:agent"}}', {}, "nowhere.py"),
    "python_export_missing": (
        '{"graphs": {"chat": "./chat.py:graph"}}',
        {"chat.py": "from somewhere import agent\n\nother = agent\n"},
        "defines no 'graph'",
    ),
    "js_file_missing": ('{"graphs": {"chat": "./src/nowhere.ts:graph"}}', {}, "nowhere.ts"),
    "js_export_missing": (
        '{"graphs": {"chat": "./chat.ts:graph"}}',
        {"chat.ts": "const graph = 1;\nexport const agent = graph;\n"},
        "exports no 'graph'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_a_bad_config_is_one_line_before_anything_starts(tmp_path: Path, case: str) -> None:
    config_text, files, problem = BAD_CONFIGS[case]
    config = tmp_path / "langgraph.json"
    config.write_text(config_text)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = refusal(tmp_path, "--config", str(config), "--port", str(free_port()))
    assert_refused(result, str(config), problem)
    assert not (tmp_path / ".agentlist").exists(), "a data folder was made: something started"


def test_a_missing_config_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "langgraph.json"
    result = refusal(tmp_path, "--config", str(missing), "--port", str(free_port()))
    assert_refused(result, str(missing), "no such file")


# -- (b) a busy port -----------------------------------------------------------------------


def test_a_busy_port_is_one_line_before_anything_starts(project: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other_server:
        other_server.bind(("127.0.0.1", 0))
        other_server.listen()
        port = other_server.getsockname()[1]
        result = refusal(project, "--config", "langgraph.json", "--port", str(port))
    assert_refused(result, f"port {port}", "in use")
    assert not (project / ".agentlist").exists()


# -- running it ----------------------------------------------------------------------------


# -- (c) a restart keeps the threads -------------------------------------------------------


async def test_a_restart_keeps_threads_and_runs(project: Path, log_dir: Path) -> None:
    first = Dev(project, log_dir / "dev-cli-first.log", *CONFIG)
    try:
        await first.ready()
        client = get_client(url=first.url)
        thread = await client.threads.create(metadata={"kept": "yes"})
        values: Any = await client.runs.wait(thread["thread_id"], "chat", input=HELLO)
        assert values["messages"][-1]["content"] == "echo: hello"
        # The same folder, while it is in use: refused, and the running stack is untouched.
        assert_refused(
            refusal(project, "--config", "langgraph.json", "--port", str(free_port())),
            str(project / ".agentlist"),
            "in use",
        )
        first.interrupt()
        assert await first.exit_code(60) == 0, first.output()[-3000:]
        first.assert_no_child_left()
    finally:
        first.stop_quietly()

    data = project / ".agentlist"
    assert (data / ".gitignore").read_text() == "*\n"
    credentials = (data / "credentials.json").read_text()

    second = Dev(project, log_dir / "dev-cli-second.log", *CONFIG)
    try:
        await second.ready()
        client = get_client(url=second.url)
        kept: Any = await client.threads.get(thread["thread_id"])
        assert kept["metadata"]["kept"] == "yes"
        assert kept["values"]["messages"][-1]["content"] == "echo: hello"
        runs = await client.runs.list(thread["thread_id"])
        assert [r["status"] for r in runs] == ["success"]
        assert (data / "credentials.json").read_text() == credentials
        second.interrupt()
        assert await second.exit_code(60) == 0, second.output()[-3000:]
        second.assert_no_child_left()
    finally:
        second.stop_quietly()
    assert "Traceback" not in second.output()


# -- (d) Ctrl-C twice ----------------------------------------------------------------------


async def test_a_second_ctrl_c_stops_at_once_and_quietly(project: Path, log_dir: Path) -> None:
    dev = Dev(project, log_dir / "dev-cli-twice.log", *CONFIG, "--ephemeral")
    try:
        await dev.ready()
        temporary = re.search(r"Data:\s+(\S+) \(temporary", dev.output())
        assert temporary is not None, dev.output()[-2000:]
        client = get_client(url=dev.url)
        thread = await client.threads.create()
        # A run the worker would drain for its whole grace period (30 s) on a first Ctrl-C.
        run = await client.runs.create(
            thread["thread_id"], "dev_cli_slow", input={"delay": 5, "total": 20}
        )
        await run_reaches(client, thread["thread_id"], run["run_id"], "running", within=30)
        dev.interrupt()
        await eventually(
            dev.output, lambda out: "stopping" in out, within=10, what="the first Ctrl-C seen"
        )
        assert dev.process.poll() is None, "the orderly stop was expected to wait for the run"
        second_at = time.monotonic()
        dev.interrupt()
        code = await dev.exit_code(30)
        stopped_in = time.monotonic() - second_at
        dev.assert_no_child_left()
    finally:
        dev.stop_quietly()
    assert code == 0, dev.output()[-3000:]
    assert stopped_in < 10, f"the second Ctrl-C took {stopped_in:.1f}s"
    assert "Traceback" not in dev.output(), dev.output()[-5000:]
    left_behind = await asyncio.to_thread(Path(temporary.group(1)).exists)
    assert not left_behind, "--ephemeral left its folder behind"
    assert not (project / ".agentlist").exists()


# -- (e) a worker that dies ------------------------------------------------------------------


async def test_a_killed_worker_is_started_again_and_its_run_finishes(
    project: Path, log_dir: Path
) -> None:
    """kill -9 of the only worker, mid-run: the stack stays up, its pool starts another
    worker, and the run goes on from its checkpoint to success, every step once in its state."""
    dev = Dev(project, log_dir / "dev-cli-worker-killed.log", *CONFIG, "--ephemeral")
    try:
        await dev.ready()
        client = get_client(url=dev.url)
        thread = await client.threads.create()
        run = await client.runs.create(
            thread["thread_id"], "dev_cli_slow", input={"delay": 0.5, "total": 6}
        )
        await run_reaches(client, thread["thread_id"], run["run_id"], "running", within=30)
        workers = [pid for pid, cmd in dev.children.items() if "agentlist.worker" in cmd]
        assert len(workers) == 1, dev.children
        os.kill(workers[0], signal.SIGKILL)
        await eventually(
            dev.output,
            lambda out: re.search(r"started worker \S+-2 \(pid", out),
            within=15,
            what="another worker started",
        )
        done = await run_reaches(
            client, thread["thread_id"], run["run_id"], "success", "error", within=90
        )
        assert done["status"] == "success", done
        state: Any = await client.threads.get_state(thread["thread_id"])
        assert state["values"]["steps"] == [1, 2, 3, 4, 5, 6]
        assert dev.process.poll() is None, "the stack stopped when its worker died"
        dev.children = descendants(dev.process.pid)
        dev.interrupt()
        assert await dev.exit_code(60) == 0, dev.output()[-3000:]
        dev.assert_no_child_left()
    finally:
        dev.stop_quietly()
    assert re.search(r"worker \S+-1 exited with -9; replacing it", dev.output())
    assert "stopping the stack" not in dev.output()


# -- (f) a project Postgres cannot enter ---------------------------------------------------


async def test_a_project_postgres_cannot_enter_is_one_line_or_kept_elsewhere(
    project: Path, log_dir: Path
) -> None:
    """As root (as .ci/run runs the suite), Postgres runs as ``nobody``, who cannot enter a
    project under a private folder (``/root``, say): its data cannot be kept beside the
    project. That is one line before any server starts, naming the folder and the ways out;
    ``--ephemeral``, one of them, works. As any other user, Postgres runs as that user, who may
    enter the folder: it just works."""
    closed = project / "private"
    closed.mkdir()
    closed.chmod(0o700)
    inside = closed / "project"
    inside.mkdir()
    for name in ("graphs.py", "langgraph.json"):
        shutil.move(project / name, inside / name)
    as_root = os.geteuid() == 0
    if as_root:
        result = refusal(inside, "--config", "langgraph.json", "--port", str(free_port()))
        assert_refused(result, str(closed), "nobody", "--ephemeral", "--data-dir")
        kept = inside / ".agentlist"
        assert not kept.exists() or {p.name for p in kept.iterdir()} <= {".gitignore"}, (
            "a server wrote data before the refusal"
        )
    ephemeral = ["--ephemeral"] if as_root else []
    dev = Dev(inside, log_dir / "dev-cli-private.log", *CONFIG, *ephemeral)
    try:
        await dev.ready()
        client = get_client(url=dev.url)
        thread = await client.threads.create()
        values: Any = await client.runs.wait(thread["thread_id"], "chat", input=HELLO)
        assert values["messages"][-1]["content"] == "echo: hello"
        dev.interrupt()
        assert await dev.exit_code(60) == 0, dev.output()[-3000:]
    finally:
        dev.stop_quietly()
    assert "Traceback" not in dev.output(), dev.output()[-5000:]
