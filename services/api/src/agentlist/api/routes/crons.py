"""Crons: runs created on a schedule, on one thread or each on a fresh thread."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from agentlist.api import crons as cron_rules
from agentlist.api import shapes
from agentlist.api.auth import filters
from agentlist.api.auth.custom import Action, search_value
from agentlist.api.auth.gate import Caller
from agentlist.api.db import crons
from agentlist.api.deps import CallerDep, Resources, ResourcesDep
from agentlist.api.enqueue import (
    authorize_assistant_use,
    parse_assistant_ref,
    resolve_assistant,
)
from agentlist.api.errors import BadRequestError, NotFoundError
from agentlist.api.params import pagination_headers, parse_uuid, select_fields
from agentlist.api.responses import JsonResponse
from agentlist.api.routes.threads import require_thread
from agentlist.api.schemas import CronCount, CronCreate, CronPatch, CronSearch
from agentlist.contracts.ids import uuid7
from agentlist.db.sql import Executor

router = APIRouter(tags=["Crons"])


async def _create(
    resources: Resources, caller: Caller, body: CronCreate, thread: Any | None
) -> JsonResponse:
    value: dict[str, Any] = {
        "thread_id": thread["thread_id"] if thread is not None else None,
        "assistant_id": body.assistant_id,
        "schedule": body.schedule,
        "metadata": dict(body.metadata or {}),
        "end_time": body.end_time,
        "payload": body.model_dump(mode="json", exclude_none=True),
    }
    await caller.authorize("crons", "create", value)
    if thread is None:
        # A cron's runs are runs: a thread cron asked the thread (create_run) already.
        await caller.authorize("threads", "create_run", value)
    assistant = await resolve_assistant(resources.pool, caller.tenant, body.assistant_id)
    await authorize_assistant_use(caller, assistant)
    await cron_rules.check_webhook(body.webhook, resources.server.webhooks)
    timezone = body.timezone or "UTC"
    payload = cron_rules.payload_of(body)
    template = cron_rules.run_template(
        payload,
        assistant,
        stateless=thread is None,
        thread_config=thread["config"] if thread is not None else None,
        thread_metadata=thread["metadata"] if thread is not None else None,
        max_recursion_limit=resources.settings.max_recursion_limit,
        caller=caller.run_configurable(),
    )
    row = await crons.insert(
        resources.as_tenant(caller.tenant),
        cron_id=uuid7(),
        tenant=caller.tenant,
        assistant_id=assistant.assistant_id,
        thread_id=thread["thread_id"] if thread is not None else None,
        schedule=body.schedule,
        timezone=timezone,
        payload=payload,
        run_template=template,
        metadata=value["metadata"],
        enabled=body.enabled,
        on_run_completed=body.on_run_completed or "delete",
        end_time=body.end_time,
        next_run_date=cron_rules.first_run(body.schedule, timezone),
    )
    return JsonResponse(shapes.cron(row))


@router.post("/runs/crons")
async def create_cron(body: CronCreate, resources: ResourcesDep, caller: CallerDep) -> JsonResponse:
    return await _create(resources, caller, body, None)


@router.post("/threads/{thread_id}/runs/crons")
async def create_thread_cron(
    thread_id: str, body: CronCreate, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    thread = await require_thread(resources, caller, thread_id, "create_run")
    return await _create(resources, caller, body, thread)


async def _require_cron(
    conn: Executor, caller: Caller, cron_id: str, action: Action, *, lock: bool = False
) -> Any:
    """The cron, once the caller's ``crons`` handler allows ``action`` on it."""
    cid = parse_uuid(cron_id, "cron")
    only = await caller.authorize("crons", action, {"cron_id": cid})
    row = await crons.get(conn, caller.tenant, cid, lock=lock)
    if row is None or filters.excludes(only, row["metadata"]):
        raise NotFoundError("Cron not found")
    return row


@router.get("/runs/crons/{cron_id}")
async def get_cron(cron_id: str, resources: ResourcesDep, caller: CallerDep) -> JsonResponse:
    return JsonResponse(
        shapes.cron(
            await _require_cron(resources.as_tenant(caller.tenant), caller, cron_id, "read")
        )
    )


@router.patch("/runs/crons/{cron_id}")
async def patch_cron(
    cron_id: str, body: CronPatch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    tenant = caller.tenant
    changes = body.model_dump(mode="json", exclude_unset=True)
    if not changes:
        raise BadRequestError("Request body cannot be empty")
    await cron_rules.check_webhook(changes.get("webhook"), resources.server.webhooks)
    async with resources.transaction(tenant) as conn:
        row = await _require_cron(conn, caller, cron_id, "update", lock=True)
        scheduling = {"schedule", "timezone", "end_time", "enabled"}
        payload = {**row["payload"], **{k: v for k, v in changes.items() if k not in scheduling}}
        schedule = changes.get("schedule") or row["schedule"]
        timezone = changes.get("timezone") or row["timezone"]
        assistant = await resolve_assistant(resources.pool, tenant, str(row["assistant_id"]))
        template = cron_rules.run_template(
            payload,
            assistant,
            stateless=row["thread_id"] is None,
            max_recursion_limit=resources.settings.max_recursion_limit,
            caller=caller.run_configurable(),
        )
        updated = await crons.update(
            conn,
            row["cron_id"],
            schedule=schedule,
            timezone=timezone,
            payload=payload,
            run_template={**row["run_template"], **template},
            metadata=payload.get("metadata") or row["metadata"],
            enabled=row["enabled"] if body.enabled is None else body.enabled,
            on_run_completed=payload.get("on_run_completed") or row["on_run_completed"],
            end_time=body.end_time if "end_time" in changes else row["end_time"],
            next_run_date=cron_rules.first_run(schedule, timezone),
        )
    return JsonResponse(shapes.cron(updated))


@router.delete("/runs/crons/{cron_id}", status_code=204)
async def delete_cron(cron_id: str, resources: ResourcesDep, caller: CallerDep) -> Response:
    async with resources.transaction(caller.tenant) as conn:
        row = await _require_cron(conn, caller, cron_id, "delete", lock=True)
        await crons.delete(conn, caller.tenant, row["cron_id"])
    return Response(status_code=204)


def _assistant(ref: str | None) -> UUID | None:
    return parse_assistant_ref(ref) if ref else None


@router.post("/runs/crons/search")
async def search_crons(
    body: CronSearch, resources: ResourcesDep, caller: CallerDep
) -> JsonResponse:
    value = search_value(
        body.metadata,
        limit=body.limit,
        offset=body.offset,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
    )
    only = await caller.authorize("crons", "search", value)
    async with resources.transaction(caller.tenant) as conn:
        rows, total = await crons.search(
            conn,
            caller.tenant,
            only=only,
            assistant_id=_assistant(body.assistant_id),
            thread_id=body.thread_id,
            enabled=body.enabled,
            metadata=value["metadata"],
            limit=body.limit,
            offset=body.offset,
            sort_by=body.sort_by,
            sort_order=body.sort_order,
        )
    items = [select_fields(shapes.cron(row), body.select) for row in rows]
    return JsonResponse(items, headers=pagination_headers(total, body.offset, len(items)))


@router.post("/runs/crons/count")
async def count_crons(body: CronCount, resources: ResourcesDep, caller: CallerDep) -> int:
    value = search_value(
        body.metadata,
        limit=None,
        offset=None,
        assistant_id=body.assistant_id,
        thread_id=body.thread_id,
    )
    only = await caller.authorize("crons", "search", value)
    return await crons.count(
        resources.as_tenant(caller.tenant),
        caller.tenant,
        only=only,
        assistant_id=_assistant(body.assistant_id),
        thread_id=body.thread_id,
        metadata=value["metadata"],
    )
