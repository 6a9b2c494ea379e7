"""The scheduler service: claim/dispatch and lease-sweep loops, woken by ``runs.requested``."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from agentlist.contracts import subjects
from agentlist.scheduler.claim import claim, next_due_in
from agentlist.scheduler.crons import fire_due
from agentlist.scheduler.dispatch import Dispatcher
from agentlist.scheduler.settings import SchedulerSettings
from agentlist.scheduler.sweeper import sweep_once
from agentlist.scheduler.ttl import sweep_threads
from agentlist.shared import nats as mesh_nats
from agentlist.shared.db import open_when_reachable
from agentlist.shared.lifecycle import run_service
from agentlist.shared.logs import configure_logging
from agentlist.shared.loops import Backoff, Waker, sleep_unless, until_done
from agentlist.shared.nats import ensure_events_stream

logger = logging.getLogger(__name__)


def main(settings: SchedulerSettings) -> None:
    configure_logging("scheduler", settings.log_level, settings.debug)
    run_service(lambda stop: serve(settings, stop))


def build_broker(settings: SchedulerSettings, waker: Waker) -> NatsBroker:
    """Every scheduler instance hears every wake-up (no queue group): any of them may claim."""
    broker = mesh_nats.broker(settings.nats_url, "agentlist-scheduler")

    async def on_runs_requested() -> None:
        waker.wake()

    broker.subscriber(subjects.RUNS_REQUESTED)(on_runs_requested)
    return broker


class Scheduler:
    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: NatsBroker,
        js: JetStreamContext,
        waker: Waker,
        settings: SchedulerSettings,
    ) -> None:
        self._pool = pool
        self._broker = broker
        self._js = js
        self._waker = waker
        self._settings = settings
        self._dispatcher = Dispatcher(
            pool,
            broker.connection,
            js,
            timeout=settings.dispatch_timeout,
            lease_seconds=settings.lease_seconds,
        )
        self._dispatching: set[asyncio.Task[object]] = set()

    async def claim_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff(most=self._settings.max_backoff)
        while not stop.is_set():
            try:
                claimed = await self.claim_once()
                wait = await self._idle_wait(claimed)
            except Exception:
                delay = backoff.next()
                logger.exception("claim failed; retrying in %.1fs", delay)
                await sleep_unless(stop, delay)
                continue
            backoff.reset()
            if wait > 0:
                await self._waker.wait(wait)

    async def claim_once(self) -> int:
        """Claim a batch and start dispatching it (dispatches run in the background, so a slow
        worker does not hold up the next claim). Returns how many runs were claimed."""
        if not self._broker.connection.is_connected:
            return 0
        started = await claim(self._pool, self._settings)
        if started:
            task = asyncio.create_task(self._dispatcher.dispatch_all(started))
            self._dispatching.add(task)
            task.add_done_callback(self._dispatch_done)
        return len(started)

    async def _idle_wait(self, claimed: int) -> float:
        if claimed >= self._settings.batch_size:
            return 0
        wait = self._settings.poll_interval
        due = await next_due_in(self._pool)
        return min(wait, due) if due is not None else wait

    def _dispatch_done(self, task: asyncio.Task[object]) -> None:
        self._dispatching.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("dispatch failed", exc_info=task.exception())

    async def sweep_loop(self, stop: asyncio.Event) -> None:
        backoff = Backoff(most=self._settings.max_backoff)
        while not stop.is_set():
            try:
                swept = await sweep_once(self._pool, self._js, self._settings)
            except Exception:
                delay = backoff.next()
                logger.exception("lease sweep failed; retrying in %.1fs", delay)
                await sleep_unless(stop, delay)
                continue
            backoff.reset()
            if swept:
                self._waker.wake()
            if swept < self._settings.batch_size:
                await sleep_unless(stop, self._settings.lease_sweep_interval)

    async def cron_loop(self, stop: asyncio.Event) -> None:
        """Fire due crons, and now and then retire threads past their TTL."""
        backoff = Backoff(most=self._settings.max_backoff)
        last_ttl_sweep = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if await fire_due(self._pool, self._settings.batch_size):
                    self._waker.wake()
                if loop.time() - last_ttl_sweep >= self._settings.ttl_sweep_interval:
                    await sweep_threads(self._pool, self._settings.batch_size)
                    last_ttl_sweep = loop.time()
            except Exception:
                delay = backoff.next()
                logger.exception("cron/TTL pass failed; retrying in %.1fs", delay)
                await sleep_unless(stop, delay)
                continue
            backoff.reset()
            await sleep_unless(stop, self._settings.cron_interval)

    async def drain(self, grace: float) -> None:
        """Let dispatches under way finish (their runs are already claimed)."""
        if self._dispatching:
            await asyncio.wait(self._dispatching, timeout=grace)


async def serve(settings: SchedulerSettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set. Waits for Postgres and NATS to be reachable first."""
    pool = await open_when_reachable(
        settings.database_url, stop, max_size=settings.pool_size, most_backoff=settings.max_backoff
    )
    if pool is None:
        return
    waker = Waker()
    broker = build_broker(settings, waker)
    try:
        if not await mesh_nats.start_when_reachable(broker, stop, settings.max_backoff):
            return
        js = broker.connection.jetstream()
        await until_done(
            "events stream",
            lambda: ensure_events_stream(js, settings.events_max_age_seconds),
            stop,
            settings.max_backoff,
        )
        scheduler = Scheduler(pool, broker, js, waker, settings)
        logger.info("scheduler ready")
        await _run_until(stop, waker, scheduler)
        await scheduler.drain(settings.dispatch_timeout + 1)
    finally:
        await broker.stop()
        await pool.close()
        logger.info("scheduler stopped")


async def _run_until(stop: asyncio.Event, waker: Waker, scheduler: Scheduler) -> None:
    async def wake_on_stop() -> None:
        await stop.wait()
        waker.wake()

    async with asyncio.TaskGroup() as group:
        group.create_task(wake_on_stop())
        group.create_task(scheduler.claim_loop(stop))
        group.create_task(scheduler.sweep_loop(stop))
        group.create_task(scheduler.cron_loop(stop))
