"""Operators' view of the mesh: workers with their state and load, and draining one. With
authentication on, only callers with the operator permission reach it."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from nats.errors import Error as NatsError

from agentlist.api import shapes
from agentlist.api.db import metrics as db_metrics
from agentlist.api.db import workers
from agentlist.api.deps import OperatorDep, ResourcesDep
from agentlist.api.errors import NotFoundError
from agentlist.api.responses import JsonResponse
from agentlist.contracts import WorkerControl, subjects

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/workers", tags=["Workers"])


@router.get("")
async def list_workers(resources: ResourcesDep, _operator: OperatorDep) -> JsonResponse:
    """Every worker the registry knows: state, capacity, runs in flight, last heartbeat."""
    return JsonResponse([shapes.worker(row) for row in await workers.list_all(resources.pool)])


@router.get("/pools")
async def list_pools(resources: ResourcesDep, _operator: OperatorDep) -> JsonResponse:
    """Every worker pool that reported lately: its bounds, target, size and last decision."""
    return JsonResponse([shapes.pool(row) for row in await db_metrics.live_pools(resources.pool)])


@router.post("/{worker_id}/drain", status_code=202)
async def drain_worker(
    worker_id: str, resources: ResourcesDep, operator: OperatorDep
) -> JsonResponse:
    """The worker takes no new runs, finishes or hands back what it holds, then exits."""
    team = await workers.request_drain(resources.pool, worker_id)
    if team is None:
        raise NotFoundError(f"No live worker {worker_id}")
    operator.audit("worker_drain", worker=worker_id)
    try:  # at once if it answers; otherwise its next heartbeat reply carries the request
        await resources.nats.request(
            subjects.worker_control(team, worker_id),
            WorkerControl(action="drain").model_dump_json().encode(),
            timeout=1,
        )
    except (NatsError, TimeoutError, ValueError) as exc:
        logger.info("drain of %s goes by heartbeat (%r)", worker_id, exc)
    return JsonResponse({"worker_id": worker_id, "drain_requested": True}, status_code=202)
