"""Request bodies of the LangGraph Server API, as the official SDKs send them.

Unknown fields are ignored (langgraph-api's schemas allow them too); ``None`` means "not given".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agentlist.contracts.runs import StreamMode
from agentlist.contracts.storage import ActiveRunStatus, ThreadStatus

SortOrder = Literal["asc", "desc"]
MultitaskStrategy = Literal["reject", "enqueue", "interrupt", "rollback"]
IfNotExists = Literal["reject", "create"]
OnDisconnect = Literal["cancel", "continue"]
OnCompletion = Literal["delete", "keep"]

# Bounds of what Postgres stores: a TTL becomes an interval (at most about 178 million years;
# a thousand years is forever enough), a depth an ``integer``. Past them the database refuses
# the value mid-request; a 422 names the field instead.
MAX_TTL_MINUTES = 1000 * 365.25 * 24 * 60
INT4_MAX = 2**31 - 1
INT8_MAX = 2**63 - 1

# A store filter's field is a value to equal, or an object of these operators (LangGraph's
# store raises on any other, mid-request).
STORE_FILTER_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class ThreadTTL(Body):
    ttl: float = Field(gt=0, le=MAX_TTL_MINUTES)
    """Minutes."""
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadCreate(Body):
    thread_id: UUID | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    ttl: ThreadTTL | None = None
    supersteps: list[dict[str, Any]] | None = None


class CheckpointBody(Body):
    checkpoint_id: str | None = None
    checkpoint_ns: str | None = ""
    checkpoint_map: dict[str, Any] | None = None
    thread_id: str | None = None


class GotoSend(Body):
    """A ``Send``: run ``node`` with ``input`` as its state."""

    node: str
    input: Any = None


class CommandBody(Body):
    resume: Any = None
    update: Any = None
    goto: str | GotoSend | list[str | GotoSend] | None = None


class RunConfig(Body):
    model_config = ConfigDict(extra="allow")
    tags: list[str] | None = None
    recursion_limit: int | None = Field(default=None, ge=1)
    """At most the server's ``max_recursion_limit`` (checked with the assistant's config)."""
    configurable: dict[str, Any] | None = None


class RunCreate(Body):
    """``POST /threads/{id}/runs[/stream|/wait]`` and the stateless ``/runs[...]``."""

    assistant_id: str
    input: Any = None
    command: CommandBody | None = None
    checkpoint: CheckpointBody | None = None
    checkpoint_id: str | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    multitask_strategy: MultitaskStrategy | None = None
    if_not_exists: IfNotExists | None = None
    on_disconnect: OnDisconnect | None = None
    on_completion: OnCompletion | None = None
    after_seconds: float | None = Field(default=None, ge=0)
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None


class AssistantCreate(Body):
    graph_id: str
    assistant_id: UUID | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    name: str | None = None
    description: str | None = None


class AssistantPatch(Body):
    graph_id: str | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    name: str | None = None
    description: str | None = None


class AssistantVersionsSearch(Body):
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class AssistantLatest(Body):
    version: int = Field(ge=1)


class ThreadSearch(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[UUID] | None = None
    status: ThreadStatus | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None
    extract: dict[str, str] | None = Field(default=None, max_length=10)


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: ThreadStatus | None = None


class ThreadPatch(Body):
    metadata: dict[str, Any] | None = None
    ttl: ThreadTTL | None = None


class ThreadPrune(Body):
    thread_ids: list[UUID] = Field(min_length=1)
    strategy: Literal["delete", "keep_latest"] = "delete"


class ThreadStateUpdate(Body):
    values: Any = None
    as_node: str | None = None
    checkpoint: CheckpointBody | None = None
    checkpoint_id: str | None = None


class ThreadStateAt(Body):
    checkpoint: CheckpointBody
    subgraphs: bool = False


class ThreadHistory(Body):
    limit: int = Field(default=10, ge=1, le=1000)
    before: CheckpointBody | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointBody | None = None


class CancelMany(Body):
    """``POST /runs/cancel``: either a status, or a thread's runs by id — not both."""

    status: Literal[ActiveRunStatus, "all"] | None = None
    thread_id: UUID | None = None
    run_ids: list[UUID] | None = None


Namespace = list[str]


class StorePut(Body):
    namespace: Namespace
    key: str = Field(min_length=1)
    value: dict[str, Any]
    index: Literal[False] | list[str] | None = None
    ttl: float | None = Field(default=None, gt=0, le=MAX_TTL_MINUTES)
    """Minutes."""


class StoreDelete(Body):
    namespace: Namespace
    key: str = Field(min_length=1)


class StoreBatchPut(Body):
    """``PUT /store``: several items at once (each as ``PUT /store/items`` takes it)."""

    items: list[StorePut] = Field(min_length=1, max_length=100)


class StoreBatchDelete(Body):
    """``DELETE /store``: several items at once."""

    items: list[StoreDelete] = Field(min_length=1, max_length=100)


class StoreSearch(Body):
    namespace_prefix: Namespace = Field(default_factory=list)
    filter: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=INT8_MAX)
    query: str | None = None
    refresh_ttl: bool | None = None

    @field_validator("filter")
    @classmethod
    def _known_operators(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for field, condition in (value or {}).items():
            unknown = (
                sorted(set(condition) - set(STORE_FILTER_OPERATORS))
                if isinstance(condition, dict)
                else []
            )
            if unknown:
                raise ValueError(
                    f"{field}: {unknown[0]!r} is not an operator of"
                    f" {', '.join(STORE_FILTER_OPERATORS)}"
                )
        return value


class StoreNamespaces(Body):
    prefix: Namespace | None = None
    suffix: Namespace | None = None
    max_depth: int | None = Field(default=None, ge=1, le=INT4_MAX)
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=INT8_MAX)


class CronCreate(Body):
    assistant_id: str
    schedule: str
    timezone: str | None = None
    end_time: datetime | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    multitask_strategy: MultitaskStrategy | None = None
    enabled: bool = True
    on_run_completed: OnCompletion | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    checkpoint_during: bool | None = None


class CronPatch(Body):
    schedule: str | None = None
    timezone: str | None = None
    end_time: datetime | None = None
    input: Any = None
    metadata: dict[str, Any] | None = None
    config: RunConfig | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    on_run_completed: OnCompletion | None = None
    enabled: bool | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None


class CronSearch(Body):
    assistant_id: str | None = None
    thread_id: UUID | None = None
    enabled: bool | None = None
    metadata: dict[str, Any] | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: (
        Literal[
            "cron_id",
            "assistant_id",
            "thread_id",
            "next_run_date",
            "end_time",
            "created_at",
            "updated_at",
        ]
        | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class CronCount(Body):
    assistant_id: str | None = None
    thread_id: UUID | None = None
    metadata: dict[str, Any] | None = None
