"""The scheduler service: claim/dispatch and lease-sweep loops, woken by ``runs.requested``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from agentlist.contracts import subjects
from agentlist.core import nats as mesh_nats
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.core.retry import Waker, retry, supervise
from agentlist.db import connections
from agentlist.scheduler.claim import claim
from agentlist.scheduler.crons import fire_due
from agentlist.scheduler.dispatch import Dispatcher
from agentlist.scheduler.settings import SchedulerSettings
from agentlist.scheduler.sweeper import sweep_once
from agentlist.scheduler.ttl import sweep_threads

logger = logging.getLogger(__name__)


def main(settings: SchedulerSettings) -> None:
    configure_logging("scheduler", settings.log_level, settings.debug)
    run_service("scheduler", lambda stop: serve(settings, stop))


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        nc: Client,
        js: JetStreamContext,
        waker: Waker,
        sweep_waker: Waker,
        settings: SchedulerSettings,
    ) -> None:
        self._pool = pool
        self._nc = nc
        self._js = js
        self._waker = waker
        self._sweep_waker = sweep_waker
        self._settings = settings
        self._dispatcher = Dispatcher(
            pool,
            nc,
            js,
            timeout=settings.dispatch_timeout,
            lease_seconds=settings.lease_seconds,
        )
        self._dispatching: set[asyncio.Task[object]] = set()

    async def claim_loop(self, stop: asyncio.Event) -> None:
        async def claim_then_wait() -> float:
            wait = await self.claim_once()
            if wait > 0:
                await self._waker.wait(wait)
            return 0

        await self._supervise("claim", claim_then_wait, stop)

    async def _supervise(
        self, what: str, step: Callable[[], Awaitable[float]], stop: asyncio.Event
    ) -> None:
        most = self._settings.max_backoff
        await supervise(what, step, stop, transient=connections.TRANSIENT, most=most)

    async def claim_once(self) -> float:
        """Claim a batch and start dispatching it (dispatches run in the background, so a slow
        worker does not hold up the next claim). Returns how long to wait, unless woken, before
        the next claim."""
        if not self._nc.is_connected:
            return self._settings.poll_interval
        claimed = await claim(self._pool, self._settings)
        if claimed.started:
            task = asyncio.create_task(self._dispatcher.dispatch_all(claimed.started))
            self._dispatching.add(task)
            task.add_done_callback(self._dispatch_done)
        if len(claimed.started) >= self._settings.batch_size:
            return 0
        due = claimed.next_due_in
        wait = self._settings.poll_interval
        return min(wait, due) if due is not None else wait

    def _dispatch_done(self, task: asyncio.Task[object]) -> None:
        self._dispatching.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("dispatch failed", exc_info=task.exception())

    async def sweep_loop(self, stop: asyncio.Event) -> None:
        """Every ``lease_sweep_interval``, and at once on a wake-up: the registry sends one when
        a worker known dead released its runs' leases, so they need not wait for the next pass.
        A wake-up costs one look at the expired leases' index."""

        async def sweep_then_wait() -> float:
            swept = await sweep_once(self._pool, self._js, self._settings)
            if swept:
                self._waker.wake()
            if swept < self._settings.batch_size:
                await self._sweep_waker.wait(self._settings.lease_sweep_interval)
            return 0

        await self._supervise("lease sweep", sweep_then_wait, stop)

    async def cron_loop(self, stop: asyncio.Event) -> None:
        """Fire due crons, and now and then retire threads past their TTL."""
        loop = asyncio.get_running_loop()
        last_ttl_sweep = 0.0

        async def fire_and_retire() -> float:
            nonlocal last_ttl_sweep
            if await fire_due(self._pool, self._settings.batch_size):
                self._waker.wake()
            if loop.time() - last_ttl_sweep >= self._settings.ttl_sweep_interval:
                await sweep_threads(self._pool, self._settings.batch_size)
                last_ttl_sweep = loop.time()
            return self._settings.cron_interval

        await self._supervise("cron/TTL pass", fire_and_retire, stop)

    async def drain(self, grace: float) -> None:
        """Let dispatches under way finish (their runs are already claimed)."""
        if self._dispatching:
            await asyncio.wait(self._dispatching, timeout=grace)


async def serve(settings: SchedulerSettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set. Waits for Postgres and NATS to be reachable first."""
    async with connections.opened(settings, "agentlist-scheduler", stop) as held:
        if held is not None:
            await _serve_mesh(settings, held.pool, held.nc, stop)
        logger.info("scheduler stopped")


async def _serve_mesh(
    settings: SchedulerSettings, pool: asyncpg.Pool, nc: Client, stop: asyncio.Event
) -> None:
    waker, sweep_waker = Waker(), Waker()

    async def on_runs_requested(_: Msg) -> None:
        waker.wake()

    async def on_runs_released(_: Msg) -> None:
        sweep_waker.wake()

    # Every scheduler instance hears every wake-up (no queue group): any of them may claim.
    await nc.subscribe(subjects.RUNS_REQUESTED, cb=on_runs_requested)
    await nc.subscribe(subjects.RUNS_RELEASED, cb=on_runs_released)
    js = nc.jetstream()
    await retry(
        "events stream",
        lambda: mesh_nats.ensure_events_stream(
            js, settings.events_max_age_seconds, settings.events_replicas
        ),
        stop,
        transient=connections.TRANSIENT,
        most=settings.max_backoff,
    )
    if stop.is_set():
        return
    scheduler = Scheduler(pool, nc, js, waker, sweep_waker, settings)
    logger.info("scheduler ready")
    await _run_until(stop, (waker, sweep_waker), scheduler)
    await scheduler.drain(settings.dispatch_timeout + 1)


async def _run_until(stop: asyncio.Event, wakers: tuple[Waker, ...], scheduler: Scheduler) -> None:
    async def wake_on_stop() -> None:
        await stop.wait()
        for waker in wakers:
            waker.wake()

    async with asyncio.TaskGroup() as group:
        group.create_task(wake_on_stop())
        group.create_task(scheduler.claim_loop(stop))
        group.create_task(scheduler.sweep_loop(stop))
        group.create_task(scheduler.cron_loop(stop))
