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
from agentlist.registry.teams import TeamGrants

logger = logging.getLogger(__name__)


class RegistryHandlers:
    def __init__(
        self,
        store: Store,
        teams: TeamGrants,
        *,
        heartbeat_interval: float,
        lease_seconds: float,
    ) -> None:
        self._store = store
        self._teams = teams
        self._heartbeat_interval = heartbeat_interval
        self._lease_seconds = lease_seconds

    async def on_register(self, msg: WorkerRegister, subject: str) -> RegisterReply:
        team = subjects.team_of(subject)
        if not is_token(msg.worker_id) or not is_token(team):
            return self._refusal("a worker id and a team may only hold letters, digits, _ and -")
        refused = self._teams.refused(team, msg.graphs)
        if refused:
            logger.warning("worker %s of team %s refused graphs: %s", msg.worker_id, team, refused)
        rejected = await self._store.register(msg, team, refused)
        if rejected is None:
            logger.warning("worker %s: its id belongs to another team than %s", msg.worker_id, team)
            return self._refusal(f"worker id {msg.worker_id!r} belongs to another team")
        logger.info(
            "worker %s of team %s registered (%s, capacity %s, graphs %s, rejected %s)",
            msg.worker_id,
            team,
            msg.language,
            msg.capacity,
            [g.graph_id for g in msg.graphs if g.graph_id not in rejected],
            sorted(rejected),
        )
        return RegisterReply(
            accepted=True, rejected_graphs=rejected, heartbeat_interval=self._heartbeat_interval
        )

    def _refusal(self, reason: str) -> RegisterReply:
        return RegisterReply(
            accepted=False, reason=reason, heartbeat_interval=self._heartbeat_interval
        )

    async def on_heartbeat(self, msg: Heartbeat, subject: str) -> HeartbeatReply:
        view = await self._store.heartbeat(msg, subjects.team_of(subject), self._lease_seconds)
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
            nc, subjects.REGISTRY_REGISTER_ALL, WorkerRegister, handlers.on_register, queue=queue
        ),
        await serve_requests(
            nc, subjects.REGISTRY_HEARTBEAT_ALL, Heartbeat, handlers.on_heartbeat, queue=queue
        ),
    ]
