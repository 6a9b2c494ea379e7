"""``agentlist dev``'s supervisor on real processes: an exited service starts again, after a
pause that doubles while it keeps failing and resets once it stays up."""

from __future__ import annotations

import sys
from pathlib import Path

from agentlist.launcher.process import ChildProcess, spawn
from agentlist.launcher.supervisor import FIRST_PAUSE, STEADY_AFTER, Supervisor


def exits_at_once() -> ChildProcess:
    child = spawn("crashy", [sys.executable, "-c", "raise SystemExit(3)"])
    child.popen.wait(10)
    return child


def test_an_exited_service_starts_again_later_each_time_it_fails() -> None:
    services = [exits_at_once()]
    supervisor = Supervisor()
    first_pid = services[0].pid
    assert supervisor.tick(services, 0.0) == [
        f"crashy exited with 3; starting it again in {FIRST_PAUSE:g}s"
    ]
    assert supervisor.tick(services, FIRST_PAUSE / 2) == []  # not yet
    said = supervisor.tick(services, FIRST_PAUSE)
    assert services[0].pid != first_pid and said == [
        f"crashy started again (pid {services[0].pid})"
    ]
    services[0].popen.wait(10)  # it fails again: the next pause is twice as long
    assert supervisor.tick(services, 1.0) == [
        f"crashy exited with 3; starting it again in {2 * FIRST_PAUSE:g}s"
    ]
    assert supervisor.tick(services, 1.0 + FIRST_PAUSE) == []
    assert supervisor.tick(services, 1.0 + 2 * FIRST_PAUSE)[0].startswith("crashy started again")
    services[0].popen.wait(10)


def test_a_service_that_stayed_up_is_paused_briefly_again(tmp_path: Path) -> None:
    failing = tmp_path / "failing"
    failing.touch()
    program = (
        f"import os, sys, time; sys.exit(3) if os.path.exists({str(failing)!r}) else time.sleep(60)"
    )
    services = [spawn("flaky", [sys.executable, "-c", program])]
    services[0].popen.wait(10)
    supervisor = Supervisor()
    supervisor.tick(services, 0.0)
    supervisor.tick(services, FIRST_PAUSE)  # started again, and fails again
    services[0].popen.wait(10)
    assert supervisor.tick(services, 1.0) == [
        f"flaky exited with 3; starting it again in {2 * FIRST_PAUSE:g}s"
    ]
    failing.unlink()
    supervisor.tick(services, 2.0)  # started again: this time it stays up
    assert services[0].alive()
    assert supervisor.tick(services, 2.0 + STEADY_AFTER) == []
    services[0].kill()
    assert supervisor.tick(services, 3.0 + STEADY_AFTER) == [
        f"flaky exited with -9; starting it again in {FIRST_PAUSE:g}s"
    ]
