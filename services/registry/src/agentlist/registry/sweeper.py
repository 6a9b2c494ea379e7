"""The liveness sweeper: silent workers are pinged, then marked unhealthy or dead (their runs
released to the scheduler at once), and dead ones forgotten after a while, as are pools gone
silent.

Every registry instance may run it: each update is conditional on the silence still being
there, so running it twice, or racing a heartbeat, changes nothing.
"""

from __future__ import annotations

import asyncio
import logging

import nats.errors
from nats.aio.client import Client
from pydantic import ValidationError

from agentlist.contracts import subjects
from agentlist.contracts.workers import WorkerControl, WorkerControlReply
from agentlist.registry.handlers import Wake
from agentlist.registry.liveness import Thresholds, Verdict, judge, state_after_ping
from agentlist.registry.queries import SilentWorker
from agentlist.registry.store import RegistryStore

logger = logging.getLogger(__name__)


async def ping(nc: Client, worker: SilentWorker, wait: float) -> bool:
    """Whether the worker answers a ping on its control subject within ``wait`` seconds."""
    try:
        msg = await nc.request(
            subjects.worker_control(worker.team, worker.worker_id),
            WorkerControl(action="ping").model_dump_json().encode(),
            timeout=wait,
        )
        WorkerControlReply.model_validate_json(msg.data)
    except (nats.errors.Error, TimeoutError, ValidationError):
        return False
    return True


async def sweep_once(
    store: RegistryStore, nc: Client, wake: Wake, thresholds: Thresholds, ping_timeout: float
) -> None:
    silent = await store.silent_workers(min(thresholds.suspect_after, thresholds.dead_after))
    verdicts = [(w, judge(w.state, w.silence, thresholds)) for w in silent]
    released = 0
    for worker, verdict in verdicts:
        if verdict is Verdict.DEAD:
            logger.warning("worker %s silent for %.1fs: dead", worker.worker_id, worker.silence)
            released += (await store.mark_dead(worker.worker_id, thresholds.dead_after)).runs
    if released:
        logger.warning("%d running runs of dead workers released", released)
        await wake()
    forgotten = await store.forget_dead(thresholds.forget_after)
    if forgotten:
        logger.info("forgot workers dead for %.0fs: %s", thresholds.forget_after, forgotten)
    gone = await store.forget_gone_pools()
    if gone:
        logger.info("forgot pools gone silent: %s", gone)
    suspects = [w for w, verdict in verdicts if verdict is Verdict.SUSPECT]
    if suspects:
        answers = await asyncio.gather(*(ping(nc, w, ping_timeout) for w in suspects))
        for worker, answered in zip(suspects, answers, strict=True):
            await _after_ping(store, worker, answered, thresholds)


async def _after_ping(
    store: RegistryStore, worker: SilentWorker, answered: bool, thresholds: Thresholds
) -> None:
    if state_after_ping(answered) == "unhealthy":
        logger.warning(
            "worker %s silent for %.1fs and not answering: unhealthy",
            worker.worker_id,
            worker.silence,
        )
        await store.mark_unhealthy(worker.worker_id, thresholds.suspect_after)
