"""``agentlist dev`` run as a newcomer runs it: a subprocess in a project folder of its own, its
output in a log file, stopped with SIGINT as Ctrl-C does, and nothing of it left behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from processkit import descendants, still_running
from waitkit import eventually

from agentlist.launcher.process import free_port

AGENTLIST = Path(sys.executable).parent / "agentlist"
READY_WITHIN = 120.0


def newcomer_env() -> dict[str, str]:
    """This environment without server URLs or a venv, as a newcomer's shell has it:
    ``agentlist dev`` starts servers of its own."""
    drop = {"NATS_URL", "DATABASE_URL", "REDIS_URL", "PORT", "DEBUG", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if key not in drop}


class Dev:
    """One ``agentlist dev --port <free> *args`` in ``folder``."""

    def __init__(self, folder: Path, log: Path, *args: str, agentlist: Path = AGENTLIST) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(agentlist), "dev", "--port", str(self.port), *args],
                cwd=folder,
                env=newcomer_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the test's SIGINT reaches it alone, like Ctrl-C
            )
        self.children: dict[int, str] = {}

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self) -> float:
        """Seconds to ready, as the banner says."""

        def banner() -> re.Match[str] | None:
            assert self.process.poll() is None, f"agentlist dev exited:\n{self.output()[-3000:]}"
            return re.search(r"AgentList is ready in ([\d.]+)s", self.output())

        found = await eventually(
            banner,
            within=READY_WITHIN,
            every=0.25,
            what="agentlist dev ready",
            context=lambda: self.output()[-3000:],
        )
        assert found is not None
        self.children = descendants(self.process.pid)
        assert self.children, "agentlist dev started no child processes"
        return float(found.group(1))

    def interrupt(self) -> None:
        self.process.send_signal(signal.SIGINT)

    async def exit_code(self, within: float) -> int:
        try:
            return await asyncio.to_thread(self.process.wait, within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def assert_no_child_left(self) -> None:
        left = [cmd for pid, cmd in self.children.items() if still_running(pid, cmd)]
        assert not left, f"children outlived agentlist dev: {left}"

    def stop_quietly(self) -> None:
        """For ``finally``: whatever happened, leave nothing running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid, cmd in self.children.items():
            if still_running(pid, cmd):
                os.kill(pid, signal.SIGKILL)
