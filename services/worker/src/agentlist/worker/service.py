"""``agentlist worker``: serve a ``langgraph.json`` to the mesh until SIGTERM, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from agentlist.contracts import GraphInfo, RegisterReply, subjects
from agentlist.core import health
from agentlist.core import nats as mesh_nats
from agentlist.core.lifecycle import run_service
from agentlist.core.logs import configure_logging
from agentlist.worker.attempt import AttemptDeps
from agentlist.worker.describe import describe
from agentlist.worker.graphs_config import apply_environment, read_config
from agentlist.worker.loader import GraphSource, load_graphs
from agentlist.worker.persistence import Persistence, open_persistence
from agentlist.worker.registration import Heartbeater, register, registration_message
from agentlist.worker.runs import RunTable
from agentlist.worker.runtime import WorkerRuntime
from agentlist.worker.settings import WorkerSettings
from agentlist.worker.state_ops import StateService

logger = logging.getLogger(__name__)

_MOST_BACKOFF = 1.0
_SPARE_CONNECTIONS = 4
"""Postgres connections beyond one per run: state requests, the store, set-up."""


def main(settings: WorkerSettings) -> None:
    """Serve until SIGTERM or SIGINT, then drain and return."""
    configure_logging("worker", settings.log_level, settings.debug)
    run_service("worker", lambda stop: serve(settings, stop))


async def serve(settings: WorkerSettings, stop: asyncio.Event) -> None:
    """Load the graphs, join the mesh, and serve until ``stop`` is set or a drain is asked
    for; then drain (protocol step 8)."""
    config = read_config(settings.config)
    apply_environment(config)
    graphs = load_graphs(config)
    logger.info(
        "worker %s loaded graphs %s from %s", settings.worker_id, sorted(graphs), settings.config
    )
    probe = _Probe()
    async with (
        health.serving(settings.health_host, settings.health_port, probe.ready),
        mesh_nats.connected(
            settings.nats_url, f"agentlist-worker-{settings.worker_id}", stop, _MOST_BACKOFF
        ) as nc,
    ):
        if nc is None:
            return
        max_connections = settings.capacity + _SPARE_CONNECTIONS
        async with open_persistence(settings.database_url, max_connections) as persistence:
            infos = [await describe(source) for source in graphs.values()]
            await _serve_mesh(settings, nc, graphs, infos, persistence, stop, probe)
    logger.info("worker %s stopped", settings.worker_id)


async def _serve_mesh(
    settings: WorkerSettings,
    nc: Client,
    graphs: Mapping[str, GraphSource],
    infos: list[GraphInfo],
    persistence: Persistence,
    stop: asyncio.Event,
    probe: _Probe,
) -> None:
    deps = AttemptDeps(nc.jetstream(), persistence, graphs, settings.run_timeout_seconds)
    table = RunTable(settings.capacity)
    runtime = WorkerRuntime(nc, settings.worker_id, table, deps)
    own = [
        await nc.subscribe(
            subjects.worker_dispatch(settings.team, settings.worker_id), cb=runtime.on_dispatch
        ),
        await nc.subscribe(
            subjects.worker_control(settings.team, settings.worker_id), cb=runtime.on_control
        ),
        await nc.subscribe(subjects.RUN_CANCEL_ALL, cb=runtime.on_cancel),
    ]
    state_service = StateService(graphs, persistence.checkpointer, persistence.store)
    state = _StateSubscriptions(nc, state_service)
    message = registration_message(settings.worker_id, settings.capacity, infos)

    async def register_and_serve() -> RegisterReply | None:
        reply = await register(nc, message, settings.team, stop)
        if reply is not None:
            await _apply_registration(reply, graphs, table, state)
        return reply

    first = await register_and_serve()
    if first is None:
        return
    probe.serving = nc
    heartbeater = Heartbeater(
        nc, runtime, settings.team, first.heartbeat_interval, register_and_serve
    )
    # Heartbeats go on while draining: they renew the leases of the runs still finishing.
    drained = asyncio.Event()
    heartbeats = asyncio.create_task(heartbeater.run(drained))
    runtime.on_draining = heartbeater.beat_now
    await _first(stop.wait(), runtime.drain_requested.wait())
    probe.serving = None
    runtime.start_draining("signal" if stop.is_set() else "asked")
    await state.close()
    await runtime.finish_draining(settings.drain_grace_seconds)
    drained.set()
    heartbeats.cancel()
    await heartbeater.beat(stopping=True)  # the runs are gone, and so is this worker
    for subscription in own:
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()


class _Probe:
    """Ready while registered, connected and not draining: a draining worker takes no runs."""

    def __init__(self) -> None:
        self.serving: Client | None = None

    async def ready(self) -> bool:
        return self.serving is not None and self.serving.is_connected


async def _apply_registration(
    reply: RegisterReply,
    graphs: Mapping[str, GraphSource],
    table: RunTable,
    state: _StateSubscriptions,
) -> None:
    for graph_id, reason in reply.rejected_graphs.items():
        logger.warning("graph %s rejected by the registry: %s", graph_id, reason)
    served = set(graphs) - set(reply.rejected_graphs)
    table.served = served
    if not table.draining:
        await state.serve(served)
    logger.info("registered; serving %s", sorted(served))


class _StateSubscriptions:
    """One queue-group subscription per served graph; requests are answered concurrently."""

    def __init__(self, nc: Client, service: StateService) -> None:
        self._nc = nc
        self._service = service
        self._subscriptions: dict[str, Subscription] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def serve(self, graph_ids: set[str]) -> None:
        for graph_id in set(self._subscriptions) - graph_ids:
            await self._subscriptions.pop(graph_id).unsubscribe()
        for graph_id in graph_ids - set(self._subscriptions):
            self._subscriptions[graph_id] = await self._nc.subscribe(
                subjects.graph_state(graph_id),
                queue=subjects.GRAPH_STATE_QUEUE,
                cb=self._handler(graph_id),
            )

    def _handler(self, graph_id: str) -> Callable[[Msg], Awaitable[None]]:
        async def on_request(msg: Msg) -> None:
            task = asyncio.create_task(self._answer(graph_id, msg))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return on_request

    async def _answer(self, graph_id: str, msg: Msg) -> None:
        reply = await self._service.answer(graph_id, msg.data)
        if msg.reply:
            await self._nc.publish(msg.reply, reply.model_dump_json().encode())

    async def close(self) -> None:
        """Stop taking requests, and finish those under way."""
        for subscription in self._subscriptions.values():
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
