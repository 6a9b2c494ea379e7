"""The registry's request handlers: plain typed functions, served on NATS by
:func:`agentlist.core.nats.serve_requests`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from agentlist.contracts import subjects
from agentlist.contracts.workers import (
    Heartbeat,
    HeartbeatReply,
    PoolReply,
    PoolReport,
    RegisterReply,
    WorkerRegister,
)
from agentlist.core.nats import serve_requests
from agentlist.registry.catalogue import is_token
from agentlist.registry.leases import answer
from agentlist.registry.store import Store
from agentlist.registry.teams import TeamGrants

logger = logging.getLogger(__name__)

REASON_CHARS: Final = 500
"""A pool's reason is free text an operator reads: it is kept to this many characters."""

Wake = Callable[[], Awaitable[None]]
"""Wakes the schedulers (``runs.released``): released runs are swept, then claimed, at once."""


class RegistryHandlers:
    def __init__(
        self,
        store: Store,
        teams: TeamGrants,
        wake: Wake,
        *,
        heartbeat_interval: float,
        lease_seconds: float,
        pool_gone_after: float,
    ) -> None:
        self._store = store
        self._teams = teams
        self._wake = wake
        self._heartbeat_interval = heartbeat_interval
        self._lease_seconds = lease_seconds
        self._pool_gone_after = pool_gone_after

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

    async def on_pool(self, msg: PoolReport, subject: str) -> PoolReply:
        """A pool of the subject's team: its lost children die at once (only the team's own
        workers), its report is recorded (a leaving pool's as gone already), and it gets the
        load of the graphs its team may serve and the registry's view of its children."""
        team = subjects.team_of(subject)
        if not is_token(msg.pool_id) or not is_token(team):
            logger.warning("pool report refused: a pool id and a team are subject tokens")
            return PoolReply()
        msg = msg.model_copy(update={"reason": msg.reason[:REASON_CHARS]})
        graphs = self._teams.granted(team, (g for g in msg.graphs if is_token(g)))
        workers = [w for w in dict.fromkeys(msg.workers) if is_token(w)]
        # A leaving pool is gone at once: it no longer serves its graphs (/health).
        gone_after = 0.0 if msg.leaving else self._pool_gone_after
        view = await self._store.pool_report(msg, team, graphs, workers, gone_after)
        self._log_lost(msg, team, view.released.dead, view.released.runs)
        if view.released.runs:
            await self._wake()
        return PoolReply(graphs=view.graphs, workers=view.workers)

    @staticmethod
    def _log_lost(msg: PoolReport, team: str, dead: list[str], runs: int) -> None:
        if dead:
            logger.warning(
                "pool %s of team %s lost workers %s: dead, %d running runs released",
                msg.pool_id,
                team,
                dead,
                runs,
            )
        ignored = sorted(set(msg.lost) - set(dead))
        if ignored:
            logger.info(
                "pool %s of team %s named as lost %s: no live worker of its team",
                msg.pool_id,
                team,
                ignored,
            )


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
        await serve_requests(
            nc, subjects.REGISTRY_POOL_ALL, PoolReport, handlers.on_pool, queue=queue
        ),
    ]
