"""A cron under two schedulers, one of them killed, on its real ticks (issue 15, point 2).

The schedule has a seconds field (croniter's sixth), so real ticks come every few seconds: no
tick is forced by SQL and nothing is counted after a quiet window. The cron ends itself (its
``end_time``) after a known set of ticks; once it says so (disabled), every run it will ever
create exists, because a tick's run and the cron's next date are written in one transaction.

The module has servers of its own: every scheduler on a database fires its crons, so on the
session's servers other stacks' schedulers would be in the count.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from croniter import croniter
from faultkit import FaultStack, effects, fault_stack
from serverkit import own_servers
from waitkit import eventually

from agentlist.launcher import Stack
from agentlist.launcher.process import ChildProcess

pytestmark = pytest.mark.slow

PERIOD = 3
"""Seconds between ticks: longer than a scheduler's pass (1 s), so a tick's run is created
before the next tick, and its creation time names its tick."""
TICKS = 4


@pytest.fixture(scope="module")
def private_servers() -> Iterator[Stack]:
    with own_servers() as stack:
        yield stack


@pytest.fixture
def mesh(private_servers: Stack, tmp_path: Path, log_dir: Path) -> Iterator[FaultStack]:
    with fault_stack(private_servers, tmp_path, log_dir / tmp_path.name, workers=1) as stack:
        yield stack


def ticks_between(schedule: str, first: datetime, last: datetime) -> list[datetime]:
    """The schedule's firings from ``first`` (one of them) to ``last``, both included."""
    found = [first]
    upcoming = croniter(schedule, first)
    while (tick := upcoming.get_next(datetime)) <= last:
        found.append(tick)
    return found


def tick_of(created_at: datetime) -> datetime:
    """The tick a run was created for: the last one at or before its creation."""
    epoch = created_at.timestamp()
    return datetime.fromtimestamp(epoch - epoch % PERIOD, UTC)


async def cron_runs(dsn: str, cron_id: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            "SELECT run_id::text AS run_id, status, attempt, created_at FROM runs"
            " WHERE metadata->>'cron_id' = $1 ORDER BY created_at",
            cron_id,
        )
    finally:
        await conn.close()


async def wait_ready(child: ChildProcess) -> None:
    async def ready() -> bool:
        assert child.alive(), child.log_tail()
        return "scheduler ready" in await asyncio.to_thread(child.log_tail, 100)

    await eventually(ready, within=30, what=f"{child.name} ready")


async def test_two_schedulers_fire_each_tick_of_a_cron_once(mesh: FaultStack) -> None:
    stack, sdk = mesh.stack, mesh.sdk
    (first,) = stack.services_named("scheduler")
    second = stack.start_service("scheduler")
    for child in (first, second):
        await wait_ready(child)

    schedule = f"* * * * * */{PERIOD}"
    end_time = datetime.now(UTC) + timedelta(seconds=PERIOD * TICKS + 1)
    cron = await sdk.crons.create(
        mesh.graphs["sleepy"],
        schedule=schedule,
        input={"delay": 0},
        end_time=end_time,
        on_run_completed="keep",  # the runs stay, to be counted (the default deletes them)
    )
    cron_id = cron["cron_id"]
    expected = ticks_between(
        schedule, datetime.fromisoformat(cron["next_run_date"]), end_time.replace(microsecond=0)
    )
    assert len(expected) >= TICKS, expected

    # Half-way, one scheduler dies (kill -9): the other fires the rest, each tick once.
    await eventually(
        lambda: cron_runs(stack.database_url, cron_id),
        lambda runs: len(runs) >= 2,
        within=PERIOD * 3 + 10,
        what="the cron's first two ticks",
    )
    first.kill()

    async def cron_over() -> bool:
        found: dict[str, Any] = await sdk.http.get(f"/runs/crons/{cron_id}")
        return found["enabled"] is False

    await eventually(cron_over, within=PERIOD * TICKS + 20, what="the cron past its end_time")
    runs = await eventually(
        lambda: cron_runs(stack.database_url, cron_id),
        lambda runs: all(run["status"] == "success" for run in runs),
        within=30,
        what="every run of the cron done",
    )
    fired = Counter(tick_of(run["created_at"]) for run in runs)
    assert fired == Counter(expected), f"ticks fired {sorted(fired.items())}, due {expected}"
    # Each run executed its step once, whichever scheduler placed it.
    done = await effects(stack.database_url, runs=[run["run_id"] for run in runs])
    assert Counter((e.run_id, e.step) for e in done) == Counter(
        (run["run_id"], "nap") for run in runs
    )
    assert second.alive(), second.log_tail()
    print(
        f"\n{len(runs)} ticks, one run each, under two schedulers (one killed after tick 2);"
        f" attempts {Counter(run['attempt'] for run in runs)}"
    )


def test_ticks_between_counts_both_ends() -> None:
    start = datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)
    assert ticks_between("* * * * * */3", start, start + timedelta(seconds=6)) == [
        start,
        start + timedelta(seconds=3),
        start + timedelta(seconds=6),
    ]
    assert tick_of(start + timedelta(seconds=2.9)) == start
