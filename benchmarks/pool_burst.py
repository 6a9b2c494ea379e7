"""A burst of runs of 1 s each against one static worker and against ``agentlist pool``.

``.venv/bin/python benchmarks/pool_burst.py [--runs 200] [--seconds 1] [--max 4] [--cooldown 5]``

One embedded stack (servers, api, registry, scheduler, bridge) serves ``graphs/nap.py``; the
workers change between phases:

1. one worker started directly, of 10 slots: the burst's completion time;
2. ``agentlist pool --min 1 --max 4``: the burst's completion time, the time from the first
   create to the pool's second worker (its first scale-out), and from the last run's end until
   it is back to one worker (the cooldown plus the drains);
3. ``agentlist pool --min 0``, once it went down to zero: one run, from its create to its end
   (the cold start of a worker).

Every wait has a deadline; runs are created ``--parallel`` at a time and their ends read from
Postgres. The pool sizes itself on the registry's answers to its reports (issue 14).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from langgraph_sdk.client import LangGraphClient

from agentlist.launcher import Stack, StackOptions
from agentlist.launcher.pool_policy import Limits
from agentlist.launcher.process import ChildProcess
from benchmarks.load import make_client

logger = logging.getLogger(__name__)

CONFIG = Path(__file__).resolve().parent / "graphs" / "pool_langgraph.json"
GRAPH = "nap"
CAPACITY = 10
PHASE_DEADLINE = 300.0
"""No phase waits longer than this for anything."""
ENDED = ("success", "error", "timeout", "interrupted")


@dataclass
class Figures:
    static_seconds: float = 0.0
    pool_seconds: float = 0.0
    first_scale_out: float = 0.0
    most_workers: int = 0
    back_to_min: float = 0.0
    cold_start: float = 0.0
    errors: int = 0


def workers_of(pool: ChildProcess) -> int:
    """The pool's live children (its workers), from ``/proc``."""
    try:
        children = Path(f"/proc/{pool.pid}/task/{pool.pid}/children").read_text().split()
    except OSError:
        return 0
    return sum(1 for pid in children if _alive(int(pid)))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def until(check: Callable[[], bool], what: str, every: float = 0.05) -> float:
    """Seconds until ``check()`` holds (at most :data:`PHASE_DEADLINE`)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > PHASE_DEADLINE:
            raise TimeoutError(f"{what}: not within {PHASE_DEADLINE:g}s")
        await asyncio.sleep(every)
    return time.monotonic() - started


async def burst(
    sdk: LangGraphClient, db: asyncpg.Connection, runs: int, seconds: float, parallel: int
) -> tuple[list[uuid.UUID], float]:
    """``runs`` runs created ``parallel`` at a time; returns their ids once all ended, and the
    seconds from the first create to the last end."""
    gate = asyncio.Semaphore(parallel)
    started = time.monotonic()

    async def create() -> uuid.UUID:
        async with gate:
            thread = await sdk.threads.create()
            run = await sdk.runs.create(thread["thread_id"], GRAPH, input={"seconds": seconds})
            return uuid.UUID(str(run["run_id"]))

    run_ids = list(await asyncio.gather(*(create() for _ in range(runs))))
    await all_ended(db, run_ids)
    return run_ids, time.monotonic() - started


async def all_ended(db: asyncpg.Connection, run_ids: Sequence[uuid.UUID]) -> None:
    started = time.monotonic()
    while True:
        ended = await db.fetchval(
            "SELECT count(*) FROM runs WHERE run_id = ANY($1) AND status = ANY($2)",
            list(run_ids),
            list(ENDED),
        )
        if ended == len(run_ids):
            return
        if time.monotonic() - started > PHASE_DEADLINE:
            raise TimeoutError(f"{len(run_ids) - ended} runs still going")
        await asyncio.sleep(0.1)


async def errors(db: asyncpg.Connection, run_ids: Sequence[uuid.UUID]) -> int:
    failed: int = await db.fetchval(
        "SELECT count(*) FROM runs WHERE run_id = ANY($1) AND status <> 'success'", list(run_ids)
    )
    return failed


def start_core(stack: Stack) -> None:
    stack.start_servers()
    stack.start_service("api", ["--port", str(stack.api_port)])
    for kind in ("registry", "scheduler", "bridge"):
        stack.start_service(kind)


def stop(child: ChildProcess, stack: Stack) -> None:
    child.stop(timeout=60)
    stack.services.remove(child)


async def measure(stack: Stack, args: argparse.Namespace) -> Figures:
    figures = Figures()
    sdk = make_client(stack.api_url)
    db = await asyncpg.connect(stack.database_url)
    try:
        # 1. One static worker.
        env = {"AGENTLIST_WORKER_CAPACITY": str(CAPACITY)}
        worker = stack.start_worker(CONFIG, env=env)
        await asyncio.to_thread(stack.wait_for_graphs, {GRAPH}, worker)
        run_ids, figures.static_seconds = await burst(
            sdk, db, args.runs, args.seconds, args.parallel
        )
        figures.errors += await errors(db, run_ids)
        logger.info("static worker: %d runs in %.1fs", args.runs, figures.static_seconds)
        stop(worker, stack)

        # 2. A pool of 1 to --max.
        limits = Limits(1, args.max, CAPACITY, args.cooldown)
        pool = stack.start_pool(limits, CONFIG)
        await until(lambda: workers_of(pool) == 1, "the pool's first worker")
        await asyncio.to_thread(stack.wait_for_graphs, {GRAPH}, pool)
        watcher = asyncio.create_task(until(lambda: workers_of(pool) > 1, "a scale-out"))
        run_ids, figures.pool_seconds = await burst(sdk, db, args.runs, args.seconds, args.parallel)
        figures.first_scale_out = await watcher
        figures.most_workers = workers_of(pool)
        figures.errors += await errors(db, run_ids)
        figures.back_to_min = await until(lambda: workers_of(pool) == 1, "back to min")
        logger.info("pool: %d runs in %.1fs", args.runs, figures.pool_seconds)
        stop(pool, stack)

        # 3. From zero.
        zero = Limits(0, args.max, CAPACITY, args.cooldown)
        pool = stack.start_pool(zero, CONFIG)
        await until(lambda: workers_of(pool) == 1, "the pool's first worker")
        await until(lambda: workers_of(pool) == 0, "the pool at zero")
        run_ids, figures.cold_start = await burst(sdk, db, 1, 0.0, 1)
        figures.errors += await errors(db, run_ids)
        stop(pool, stack)
    finally:
        await db.close()
    return figures


def table(figures: Figures, args: argparse.Namespace) -> str:
    rows = [
        (f"{args.runs} runs of {args.seconds:g}s, one static worker", figures.static_seconds),
        (
            f"{args.runs} runs of {args.seconds:g}s, pool --min 1 --max {args.max}",
            figures.pool_seconds,
        ),
        ("first scale-out (create -> second worker started)", figures.first_scale_out),
        (f"back to min after the burst ended (cooldown {args.cooldown:g}s)", figures.back_to_min),
        ("cold start from zero (create -> success of one run)", figures.cold_start),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:7.2f} s" for label, value in rows]
    speedup = figures.static_seconds / figures.pool_seconds if figures.pool_seconds else 0.0
    lines.append(f"{'speed-up of the pool':<{width}}  {speedup:7.2f} x")
    lines.append(f"{'most workers seen right after the burst':<{width}}  {figures.most_workers:7d}")
    lines.append(f"{'runs not ending in success':<{width}}  {figures.errors:7d}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1.0, help="each run's wait")
    parser.add_argument("--max", type=int, default=4, help="the pool's maximum")
    parser.add_argument("--cooldown", type=float, default=5.0)
    parser.add_argument("--parallel", type=int, default=32, help="creates in flight")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stack = Stack(StackOptions(graphs_config=CONFIG, api_port=0))
    try:
        start_core(stack)
        figures = asyncio.run(measure(stack, args))
    finally:
        stack.stop()
    print(table(figures, args))
    return 1 if figures.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
