"""Firing due crons: each tick creates one run, exactly once across scheduler instances.

The cron row is locked (``SKIP LOCKED``), its run inserted and its next date set in one
transaction. The run itself was prepared by the API when the cron was written (its
``run_template``); only the new run's and thread's ids are filled in here.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from agentlist.contracts.ids import uuid7
from agentlist.db.crontab import ScheduleError, next_run
from agentlist.db.sql import Executor
from agentlist.scheduler import queries

logger = logging.getLogger(__name__)


def with_identity(
    template: dict[str, Any], run_id: uuid.UUID, thread_id: uuid.UUID
) -> dict[str, Any]:
    """The template's kwargs with this run's ids where the API left placeholders."""
    kwargs = dict(template["kwargs"])
    config = dict(kwargs.get("config") or {})
    identity = {"run_id": str(run_id), "thread_id": str(thread_id)}
    config["configurable"] = {**config.get("configurable", {}), **identity}
    config["metadata"] = {**config.get("metadata", {}), **identity}
    kwargs["config"] = config
    return kwargs


def following(cron: asyncpg.Record, now: datetime) -> datetime | None:
    """The next firing after this one, or None when the cron has run its course."""
    try:
        upcoming = next_run(cron["schedule"], cron["timezone"], max(now, cron["next_run_date"]))
    except ScheduleError:
        logger.exception("cron %s has an invalid schedule; disabling it", cron["cron_id"])
        return None
    end = cron["end_time"]
    return None if end is not None and upcoming > end else upcoming


async def _create_run(conn: Executor, cron: asyncpg.Record) -> bool:
    template: dict[str, Any] = cron["run_template"]
    thread_id = cron["thread_id"]
    if thread_id is None:
        thread_id = uuid7()
        metadata = {"graph_id": template["graph_id"], "assistant_id": template["assistant_id"]}
        await queries.insert_cron_thread(
            conn, thread_id, cron["tenant_id"], template["graph_id"], metadata
        )
    elif template["multitask_strategy"] == "reject" and await queries.thread_active(
        conn, thread_id
    ):
        logger.info("cron %s skips a tick: its thread is busy", cron["cron_id"])
        return False
    run_id = uuid7()
    await queries.insert_cron_run(
        conn,
        run_id=run_id,
        thread_id=thread_id,
        tenant_id=cron["tenant_id"],
        assistant_id=uuid.UUID(template["assistant_id"]),
        graph_id=template["graph_id"],
        metadata={**template["metadata"], "cron_id": str(cron["cron_id"])},
        kwargs=with_identity(template, run_id, thread_id),
        # Cron runs queue behind the thread's runs: interrupting needs a live caller.
        multitask_strategy="enqueue" if template["multitask_strategy"] != "reject" else "reject",
        on_completion=template["on_completion"] if cron["thread_id"] is None else "keep",
        webhook=template.get("webhook"),
    )
    await queries.mark_thread_busy(conn, thread_id, template["graph_id"], template["assistant_id"])
    return True


async def fire_due(pool: asyncpg.Pool, batch_size: int) -> int:
    """Fire every due cron once. Returns how many runs were created."""
    created = 0
    async with pool.acquire() as conn, conn.transaction():
        now = datetime.now(UTC)
        for cron in await queries.due_crons(conn, batch_size):
            upcoming = following(cron, now)
            end = cron["end_time"]
            if end is None or cron["next_run_date"] <= end:
                created += await _create_run(conn, cron)
            await queries.advance_cron(conn, cron["cron_id"], upcoming)
    return created
