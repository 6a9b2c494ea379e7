"""Crons: validating a schedule and preparing the run each tick creates.

The API prepares the run once (assistant, config merge, defaults) and stores it as the cron's
``run_template``; the scheduler fires due crons and only fills in each run's id and thread id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from agentlist.api import runprep
from agentlist.api.errors import UnprocessableError
from agentlist.api.schemas import CronCreate, RunCreate
from agentlist.core import webhooks
from agentlist.core.langgraph_json import WebhookPolicy
from agentlist.db.crontab import ScheduleError, next_run

PLACEHOLDER = uuid.UUID(int=0)
RUN_FIELDS = frozenset(RunCreate.model_fields) - {"assistant_id"}


def first_run(schedule: str, timezone: str | None, now: datetime | None = None) -> datetime:
    try:
        return next_run(schedule, timezone, now or datetime.now(UTC))
    except ScheduleError as exc:
        raise UnprocessableError(str(exc)) from None


async def check_webhook(url: str | None, policy: WebhookPolicy) -> None:
    """A 422 for a webhook the server refuses to call, when the cron is created or given a new
    one, as for a run; the bridge checks again before each delivery."""
    if url:
        try:
            await webhooks.validate(url, policy)
        except webhooks.WebhookRefusedError as exc:
            raise UnprocessableError(str(exc)) from None


def payload_of(body: CronCreate) -> dict[str, Any]:
    """What the client asked each run to be (the cron's ``payload``)."""
    return body.model_dump(
        mode="json", exclude_none=True, exclude={"schedule", "timezone", "end_time", "enabled"}
    )


def run_template(
    payload: dict[str, Any],
    assistant: runprep.Assistant,
    *,
    stateless: bool,
    thread_config: dict[str, Any] | None = None,
    thread_metadata: dict[str, Any] | None = None,
    max_recursion_limit: int,
    caller: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``caller``: who the cron's runs run as (``langgraph_auth_*``), as its creator did;
    ``max_recursion_limit``: the server's bound, as on any run."""
    body = RunCreate.model_validate(
        {key: value for key, value in payload.items() if key in RUN_FIELDS}
        | {"assistant_id": str(assistant.assistant_id)}
    )
    if stateless and payload.get("on_run_completed"):
        body = body.model_copy(update={"on_completion": payload["on_run_completed"]})
    prepared = runprep.prepare(
        body,
        run_id=PLACEHOLDER,
        thread_id=PLACEHOLDER,
        assistant=assistant,
        thread_config=thread_config,
        thread_metadata=thread_metadata,
        headers={},
        stateless=stateless,
        max_recursion_limit=max_recursion_limit,
        caller=caller,
    )
    return {
        "assistant_id": str(assistant.assistant_id),
        "graph_id": assistant.graph_id,
        "kwargs": prepared.kwargs,
        "metadata": prepared.metadata,
        "multitask_strategy": prepared.multitask_strategy,
        "on_completion": prepared.on_completion,
        "webhook": prepared.webhook,
    }
