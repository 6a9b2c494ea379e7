"""Creating a run: one transaction that applies the thread's multitask strategy and inserts the
run as ``pending``; after commit, a wake-up for the schedulers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from agentlist.api import cancel, runprep
from agentlist.api.auth import filters
from agentlist.api.auth.filters import Filter
from agentlist.api.auth.gate import Caller
from agentlist.api.db import assistants, runs, threads
from agentlist.api.db.tenancy import TenantReads
from agentlist.api.deps import Resources
from agentlist.api.errors import ConflictError, NotFoundError, UnprocessableError
from agentlist.api.schemas import RunCreate
from agentlist.contracts import subjects
from agentlist.contracts.ids import system_assistant_id, uuid7
from agentlist.contracts.runs import CancelAction
from agentlist.core import webhooks
from agentlist.db.sql import Executor

BUSY_DETAIL = (
    "Thread is already running a task. Wait for it to finish or choose a different multitask"
    " strategy."
)


@dataclass(frozen=True)
class Enqueued:
    run: asyncpg.Record
    thread_id: uuid.UUID
    tenant: str

    @property
    def run_id(self) -> uuid.UUID:
        run_id: uuid.UUID = self.run["run_id"]
        return run_id

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = self.run["kwargs"]
        return kwargs


def parse_assistant_ref(value: str) -> uuid.UUID:
    """An assistant id, or a graph id standing for that graph's system assistant."""
    try:
        return uuid.UUID(value)
    except ValueError:
        try:
            return system_assistant_id(subjects.token(value))
        except ValueError:
            raise UnprocessableError(
                f"Invalid assistant: '{value}'. Must be either: - A valid assistant UUID, or"
                " - One of the registered graphs"
            ) from None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def resolve_assistant(pool: asyncpg.Pool, tenant: str, ref: str) -> runprep.Assistant:
    return await _resolve_assistant(TenantReads(pool, tenant), pool, tenant, ref)


async def _resolve_assistant(
    conn: Executor, pool: asyncpg.Pool, tenant: str, ref: str
) -> runprep.Assistant:
    row = await assistants.get(conn, tenant, parse_assistant_ref(ref))
    if row is None:
        graphs = await assistants.registered_graphs(pool)
        if not _is_uuid(ref):
            # A name that is no registered graph is a malformed reference, as in langgraph-api.
            raise UnprocessableError(
                f"Invalid assistant: '{ref}'. Must be either: - A valid assistant UUID, or"
                f" - One of the registered graphs: {graphs}"
            )
        raise NotFoundError(f"Assistant '{ref}' not found. Registered graphs: {graphs}")
    return runprep.Assistant(
        assistant_id=row["assistant_id"],
        graph_id=row["graph_id"],
        config=row["config"],
        context=row["context"],
        metadata=row["metadata"],
    )


async def _assistant_and_thread(
    conn: Executor,
    pool: asyncpg.Pool,
    tenant: str,
    thread_id: uuid.UUID,
    body: RunCreate,
    *,
    stateless: bool,
) -> tuple[runprep.Assistant, asyncpg.Record]:
    """The run's assistant and its thread, locked (its ``config`` and ``metadata``): one round
    trip when both exist; a stateless run's thread is new, so it is not looked for first."""
    if not stateless:
        assistant_id = parse_assistant_ref(body.assistant_id)
        row = await threads.lock_with_assistant(conn, tenant, thread_id, assistant_id)
        if row is not None:
            assistant = runprep.Assistant(
                assistant_id=row["assistant_id"],
                graph_id=row["graph_id"],
                config=row["assistant_config"],
                context=row["assistant_context"],
                metadata=row["assistant_metadata"],
            )
            return assistant, row
    assistant = await _resolve_assistant(conn, pool, tenant, body.assistant_id)
    create = stateless or body.if_not_exists == "create"
    thread = await _thread_for_run(conn, tenant, thread_id, body, assistant, create)
    return assistant, thread


async def _thread_for_run(
    conn: Executor,
    tenant: str,
    thread_id: uuid.UUID,
    body: RunCreate,
    assistant: runprep.Assistant,
    create: bool,
) -> asyncpg.Record:
    row = await threads.get(conn, tenant, thread_id, lock=True)
    if row is not None:
        return row
    if not create:
        raise NotFoundError("Thread or assistant not found.")
    metadata = {
        "graph_id": assistant.graph_id,
        "assistant_id": str(assistant.assistant_id),
        **(body.metadata or {}),
    }
    inserted = await threads.insert(conn, tenant, thread_id, metadata=metadata, status="busy")
    if inserted is None:  # created concurrently: take the lock on that one
        inserted = await threads.get(conn, tenant, thread_id, lock=True)
    assert inserted is not None
    return inserted


async def _authorize_run(
    caller: Caller, body: RunCreate, thread_id: uuid.UUID | None
) -> tuple[Filter | None, RunCreate]:
    """``threads.create_run``: the filter the run's thread must match, and the request as the
    handler left it (it may stamp the run's metadata)."""
    value: dict[str, Any] = {
        "thread_id": thread_id,
        "assistant_id": body.assistant_id,
        "metadata": dict(body.metadata or {}),
        "multitask_strategy": body.multitask_strategy,
        "if_not_exists": body.if_not_exists,
        "after_seconds": body.after_seconds,
        "kwargs": {"input": body.input, "command": body.command, "config": body.config},
    }
    only = await caller.authorize("threads", "create_run", value)
    return only, body.model_copy(update={"metadata": value["metadata"]})


async def authorize_assistant_use(caller: Caller, assistant: runprep.Assistant) -> None:
    """A run may use an assistant only if its caller may read it (langgraph-api's
    GHSA-jfj5-wrj9-63x4); a graph's system assistant is everyone's."""
    if assistant.assistant_id == system_assistant_id(subjects.token(assistant.graph_id)):
        return
    only = await caller.authorize("assistants", "read", {"assistant_id": assistant.assistant_id})
    if filters.excludes(only, assistant.metadata):
        raise NotFoundError("Thread or assistant not found.")


async def enqueue_run(
    resources: Resources,
    caller: Caller,
    body: RunCreate,
    *,
    thread_id: uuid.UUID | None,
    headers: Mapping[str, str],
) -> Enqueued:
    tenant = caller.tenant
    stateless = thread_id is None
    await resources.limits.admit(tenant)
    runprep.validate(body, stateless=stateless)
    only, body = await _authorize_run(caller, body, thread_id)
    if body.webhook:
        try:
            await webhooks.validate(body.webhook, resources.server.webhooks)
        except webhooks.WebhookRefusedError as exc:
            raise UnprocessableError(str(exc)) from None
    target = thread_id or uuid7()
    run_id = uuid7()
    async with resources.transaction(tenant) as conn:
        assistant, thread = await _assistant_and_thread(
            conn, resources.pool, tenant, target, body, stateless=stateless
        )
        if filters.excludes(only, thread["metadata"]):
            # The thread is locked: what was checked is what the run will use.
            raise NotFoundError("Thread or assistant not found.")
        await authorize_assistant_use(caller, assistant)
        prepared = runprep.prepare(
            body,
            run_id=run_id,
            thread_id=target,
            assistant=assistant,
            thread_config=thread["config"],
            thread_metadata=thread["metadata"],
            headers=headers,
            stateless=stateless,
            header_rules=resources.server.headers,
            caller=caller.run_configurable(),
            max_recursion_limit=resources.settings.max_recursion_limit,
        )
        queued = await runs.queue(
            conn,
            runs.NewRun(
                run_id=run_id,
                thread_id=target,
                tenant_id=tenant,
                assistant_id=assistant.assistant_id,
                graph_id=assistant.graph_id,
                metadata=prepared.metadata,
                kwargs=prepared.kwargs,
                multitask_strategy=prepared.multitask_strategy,
                after_seconds=prepared.after_seconds,
                on_completion=prepared.on_completion,
                webhook=prepared.webhook,
            ),
            reject_if_active=body.multitask_strategy == "reject",
            thread_stamp={
                "graph_id": assistant.graph_id,
                "assistant_id": str(assistant.assistant_id),
            },
            tenant_cap=resources.limits.runs_in_flight,
        )
        if queued.tenant_full:
            raise resources.limits.in_flight_refusal(tenant)
        if queued.row is None:
            raise ConflictError(BUSY_DETAIL)
    row, active = queued.row, queued.active
    if active and prepared.multitask_strategy in ("interrupt", "rollback"):
        # The new run waits (one active run per thread) until these end; their outcome wakes
        # the scheduler, and it starts from the state they leave (kept or rolled back).
        action: CancelAction = (
            "rollback" if prepared.multitask_strategy == "rollback" else "interrupt"
        )
        await cancel.cancel(resources, tenant, active, action)
    await resources.nats.publish(subjects.RUNS_REQUESTED, b"")
    return Enqueued(run=row, thread_id=target, tenant=tenant)
