"""The README, run as written (issue 15, point 4): its tour against a default ``agentlist dev``,
and its set-up command on a fresh clone of the repository, which then serves the tour too.

The tour's code is taken from README.md as it is, with only the port changed (the suite never
takes port 8080). The clone has only what is committed: a file the install needs and nobody
committed fails here, as it would for a newcomer. The pip, uv and npm caches of the machine make
the install take about a minute.
"""

from __future__ import annotations

import ast
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from devkit import Dev, newcomer_env

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TOUR_HEADING = "## A 30-second tour"
TOUR_URL = "http://127.0.0.1:8080"
START_DEV = " && .venv/bin/agentlist dev"
"""How the README's first command ends: the install, then the stack in the foreground."""
TOUR_WITHIN = 60.0
INSTALL_WITHIN = 600.0


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def tour_code(readme: str) -> str:
    """The Python block of the README's tour section."""
    section = readme.split(TOUR_HEADING, 1)[1].split("\n## ", 1)[0]
    (code,) = fenced_blocks(section, "python")
    assert TOUR_URL in code, "the tour no longer talks to agentlist dev's default address"
    return code


def expected_graph_ids(code: str) -> list[str]:
    """What the tour's first ``print`` says it prints, in its comment (``# ['agent']``)."""
    comment = re.search(r"assistants\.search\(\)\]\)\s*#\s*(\[.*\])", code)
    assert comment, "the tour's first print says what it prints"
    ids: list[str] = ast.literal_eval(comment.group(1))
    return ids


def install_command(readme: str) -> str:
    """The README's first command, without the ``agentlist dev`` it ends with."""
    first = fenced_blocks(readme, "bash")[0].splitlines()[0]
    assert first.endswith(START_DEV), first
    return first.removesuffix(START_DEV)


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder under the system's temp folder (Postgres runs as ``nobody`` when the suite is
    root, and pytest's own folders are private)."""
    made = Path(tempfile.mkdtemp(prefix="agentlist-readme-"))
    made.chmod(0o755)
    yield made
    shutil.rmtree(made, ignore_errors=True)


async def run_tour(python: Path, code: str, url: str) -> list[str]:
    """The tour, against ``url``: the lines it printed (it must exit 0)."""
    done = await asyncio.to_thread(
        subprocess.run,
        [str(python), "-c", code.replace(TOUR_URL, url)],
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=TOUR_WITHIN,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines: list[str] = done.stdout.splitlines()
    return lines


def assert_tour_output(lines: Sequence[str], code: str) -> None:
    """The graphs the tour says, a stream of the run's events, and the thread's state with the
    example graph's answer."""
    assert lines[0] == str(expected_graph_ids(code)), lines
    events = [line.split(" ", 1)[0] for line in lines[1:-1]]
    assert events[0] == "metadata" and {"values", "messages"} <= set(events), events
    assert "You said: hello" in lines[-1] and "'values'" in lines[-1], lines[-1]


async def serve_the_tour(agentlist: Path, python: Path, cwd: Path, log: Path) -> None:
    readme = README.read_text()
    code = tour_code(readme)
    dev = Dev(cwd, log, agentlist=agentlist)
    try:
        await dev.ready()
        assert_tour_output(await run_tour(python, code, dev.url), code)
        dev.interrupt()
        assert await dev.exit_code(60) == 0, dev.output()[-3000:]
    finally:
        dev.stop_quietly()
    assert "Traceback" not in dev.output(), dev.output()[-5000:]


async def test_the_readme_s_tour_runs_against_a_default_agentlist_dev(
    folder: Path, log_dir: Path
) -> None:
    bin_dir = Path(sys.executable).parent
    await serve_the_tour(bin_dir / "agentlist", bin_dir / "python", folder, log_dir / "tour.log")


def git(*args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_WITHIN + 300)
async def test_a_fresh_clone_installs_with_the_readme_s_command_and_serves_the_tour(
    folder: Path, log_dir: Path
) -> None:
    clone = folder / "agentlist"
    commit = git("rev-parse", "HEAD")
    git("clone", "--quiet", "--no-checkout", str(ROOT), str(clone))
    git("checkout", "--quiet", commit, cwd=clone)

    log = log_dir / "fresh-clone-install.log"
    with log.open("wb") as out:
        install = await asyncio.to_thread(
            subprocess.run,
            ["bash", "-c", install_command(README.read_text())],
            cwd=clone,
            env=newcomer_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=INSTALL_WITHIN,
            check=False,
        )
    assert install.returncode == 0, log.read_text(errors="replace")[-5000:]

    venv = clone / ".venv" / "bin"
    await serve_the_tour(venv / "agentlist", venv / "python", clone, log_dir / "fresh-clone.log")
    assert (clone / ".agentlist" / ".gitignore").exists(), "the stack kept its data elsewhere"
    assert git("status", "--porcelain", cwd=clone) == "", "the install left files git sees"
