"""The registry's request handlers: plain typed functions, served on NATS by
:func:`agentlist.core.nats.serve_requests`."""

from __future__ import annotations

import logging

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from agentlist.contracts import subjects
from agentlist.contracts.workers import Heartbeat, HeartbeatReply, RegisterReply, WorkerRegister
from agentlist.core.nats import serve_requests
from agentlist.registry.catalogue import is_token
from agentlist.registry.leases import answer
from agentlist.registry.store import Store

logger = logging.getLogger(__name__)


class RegistryHandlers:
    def __init__(self, store: Store, *, heartbeat_interval: float, lease_seconds: float) -> None:
        self._store = store
        self._heartbeat_interval = heartbeat_interval
        self._lease_seconds = lease_seconds

    async def on_register(self, msg: WorkerRegister) -> RegisterReply:
        if not is_token(msg.worker_id):
            return RegisterReply(
                accepted=False,
                reason="a worker id may only hold letters, digits, _ and -",
                heartbeat_interval=self._heartbeat_interval,
            )
        rejected = await self._store.register(msg)
        logger.info(
            "worker %s registered (%s, capacity %s, graphs %s, rejected %s)",
            msg.worker_id,
            msg.language,
            msg.capacity,
            [g.graph_id for g in msg.graphs if g.graph_id not in rejected],
            sorted(rejected),
        )
        return RegisterReply(
            accepted=True, rejected_graphs=rejected, heartbeat_interval=self._heartbeat_interval
        )

    async def on_heartbeat(self, msg: Heartbeat) -> HeartbeatReply:
        view = await self._store.heartbeat(msg, self._lease_seconds)
        reply = answer(msg.runs, view)
        if not reply.known:
            logger.info("heartbeat from unknown or dead worker %s", msg.worker_id)
        elif reply.revoked:
            logger.info("worker %s: revoked %s", msg.worker_id, [r.run_id for r in reply.revoked])
        return reply


async def subscribe(nc: Client, handlers: RegistryHandlers) -> list[Subscription]:
    """Any number of registries share the requests through the queue group."""
    queue = subjects.REGISTRY_QUEUE
    return [
        await serve_requests(
            nc, subjects.REGISTRY_REGISTER, WorkerRegister, handlers.on_register, queue=queue
        ),
        await serve_requests(
            nc, subjects.REGISTRY_HEARTBEAT, Heartbeat, handlers.on_heartbeat, queue=queue
        ),
    ]
