"""Crons: runs created on a schedule, on one thread or each on a fresh thread."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api import crons as cron_rules
from agentlist.api import shapes
from agentlist.api.db import crons
from agentlist.api.deps import Resources, ResourcesDep, TenantDep
from agentlist.api.enqueue import parse_assistant_ref, resolve_assistant
from agentlist.api.errors import BadRequestError, NotFoundError
from agentlist.api.params import pagination_headers, parse_uuid, select_fields
from agentlist.api.responses import JsonResponse
from agentlist.api.routes.threads import require_thread
from agentlist.api.schemas import CronCount, CronCreate, CronPatch, CronSearch
from agentlist.contracts.ids import uuid7

router = APIRouter(tags=["Crons"])


async def _create(
    resources: Resources, tenant: str, body: CronCreate, thread: Any | None
) -> JsonResponse:
    assistant = await resolve_assistant(resources.pool, tenant, body.assistant_id)
    timezone = body.timezone or "UTC"
    payload = cron_rules.payload_of(body)
    template = cron_rules.run_template(
        payload,
        assistant,
        stateless=thread is None,
        thread_config=thread["config"] if thread is not None else None,
        thread_metadata=thread["metadata"] if thread is not None else None,
    )
    row = await crons.insert(
        resources.pool,
        cron_id=uuid7(),
        tenant=tenant,
        assistant_id=assistant.assistant_id,
        thread_id=thread["thread_id"] if thread is not None else None,
        schedule=body.schedule,
        timezone=timezone,
        payload=payload,
        run_template=template,
        metadata=body.metadata or {},
        enabled=body.enabled,
        on_run_completed=body.on_run_completed or "delete",
        end_time=body.end_time,
        next_run_date=cron_rules.first_run(body.schedule, timezone),
    )
    return JsonResponse(shapes.cron(row))


@router.post("/runs/crons")
async def create_cron(body: CronCreate, resources: ResourcesDep, tenant: TenantDep) -> JsonResponse:
    return await _create(resources, tenant, body, None)


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(
    thread_id: str, body: CronCreate, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    return await _create(
        resources, tenant, body, await require_thread(resources, tenant, thread_id)
    )


@router.get("/runs/crons/{cron_id}")
async def get_cron(cron_id: str, resources: ResourcesDep, tenant: TenantDep) -> JsonResponse:
    row = await crons.get(resources.pool, tenant, parse_uuid(cron_id, "cron"))
    if row is None:
        raise NotFoundError("Cron not found")
    return JsonResponse(shapes.cron(row))


@router.patch("/runs/crons/{cron_id}")
async def patch_cron(
    cron_id: str, body: CronPatch, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    changes = body.model_dump(mode="json", exclude_unset=True)
    if not changes:
        raise BadRequestError("Request body cannot be empty")
    async with resources.pool.acquire() as conn, conn.transaction():
        row = await crons.get(conn, tenant, parse_uuid(cron_id, "cron"), lock=True)
        if row is None:
            raise NotFoundError("Cron not found")
        scheduling = {"schedule", "timezone", "end_time", "enabled"}
        payload = {**row["payload"], **{k: v for k, v in changes.items() if k not in scheduling}}
        schedule = changes.get("schedule") or row["schedule"]
        timezone = changes.get("timezone") or row["timezone"]
        assistant = await resolve_assistant(resources.pool, tenant, str(row["assistant_id"]))
        template = cron_rules.run_template(payload, assistant, stateless=row["thread_id"] is None)
        updated = await crons.update(
            conn,
            row["cron_id"],
            schedule=schedule,
            timezone=timezone,
            payload=payload,
            run_template={**row["run_template"], **template},
            metadata=payload.get("metadata") or row["metadata"],
            enabled=changes.get("enabled", row["enabled"]),
            on_run_completed=payload.get("on_run_completed") or row["on_run_completed"],
            end_time=body.end_time if "end_time" in changes else row["end_time"],
            next_run_date=cron_rules.first_run(schedule, timezone),
        )
    return JsonResponse(shapes.cron(updated))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, resources: ResourcesDep, tenant: TenantDep) -> Response:
    if not await crons.delete(resources.pool, tenant, parse_uuid(cron_id, "cron")):
        raise NotFoundError("Cron not found")
    return Response(status_code=204)


def _assistant(ref: str | None) -> UUID | None:
    return parse_assistant_ref(ref) if ref else None


@router.post("/runs/crons/search")
async def search_crons(
    body: CronSearch, resources: ResourcesDep, tenant: TenantDep
) -> JsonResponse:
    rows, total = await crons.search(
        resources.pool,
        tenant,
        assistant_id=_assistant(body.assistant_id),
        thread_id=body.thread_id,
        enabled=body.enabled,
        metadata=body.metadata,
        limit=body.limit,
        offset=body.offset,
        sort_by=body.sort_by,
        sort_order=body.sort_order,
    )
    items = [select_fields(shapes.cron(row), body.select) for row in rows]
    return JsonResponse(items, headers=pagination_headers(total, body.offset, len(items)))


@router.post("/runs/crons/count")
async def count_crons(body: CronCount, resources: ResourcesDep, tenant: TenantDep) -> int:
    return await crons.count(
        resources.pool,
        tenant,
        assistant_id=_assistant(body.assistant_id),
        thread_id=body.thread_id,
        metadata=body.metadata,
    )
