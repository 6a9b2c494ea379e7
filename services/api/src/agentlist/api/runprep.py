"""Turning a run request into what is stored and dispatched: pure functions, no IO.

Merge rules follow langgraph-api: config is assistant <- thread <- request (``configurable``
and ``metadata`` merged key by key), context is assistant <- request, and ``configurable`` gets
the run's identity so graphs can read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from agentlist.api.errors import BadRequestError, UnprocessableError
from agentlist.api.schemas import GotoSend, RunCreate
from agentlist.contracts.runs import CheckpointRef, Durability, RunKwargs
from agentlist.core.langgraph_json import HeaderRules


@dataclass(frozen=True)
class Assistant:
    assistant_id: UUID
    graph_id: str
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class PreparedRun:
    kwargs: dict[str, Any]
    """The ``runs.kwargs`` document: a ``RunKwargs`` plus the API's own fields."""
    metadata: dict[str, Any]
    multitask_strategy: str
    after_seconds: float
    on_completion: str
    webhook: str | None


def forwarded_headers(headers: Mapping[str, str], rules: HeaderRules) -> dict[str, str]:
    """Request headers copied into ``configurable`` (``http.configurable_headers``)."""
    return {name.lower(): value for name, value in headers.items() if rules.allows(name)}


def merge_config(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key in ("configurable", "metadata") and isinstance(value, Mapping):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def _checkpoint(body: RunCreate) -> CheckpointRef | None:
    if body.checkpoint is not None and body.checkpoint.checkpoint_id:
        return CheckpointRef(
            checkpoint_id=body.checkpoint.checkpoint_id,
            checkpoint_ns=body.checkpoint.checkpoint_ns or "",
            checkpoint_map=body.checkpoint.checkpoint_map,
        )
    if body.checkpoint_id:
        return CheckpointRef(checkpoint_id=body.checkpoint_id)
    return None


def _stream_modes(body: RunCreate) -> list[Any]:
    if body.stream_mode is None:
        return ["values"]
    modes = [body.stream_mode] if isinstance(body.stream_mode, str) else list(body.stream_mode)
    return list(dict.fromkeys(modes)) or ["values"]


def _durability(body: RunCreate) -> Durability:
    if body.durability is not None:
        return body.durability
    return "exit" if body.checkpoint_during is False else "async"


def validate(body: RunCreate, *, stateless: bool) -> None:
    configurable = (body.config.configurable if body.config else None) or {}
    if configurable and body.context:
        raise BadRequestError(
            "Cannot specify both configurable and context. Prefer setting context alone."
            " Context was introduced in LangGraph 0.6.0 and is the long term planned"
            " replacement for configurable."
        )
    if stateless and body.command is not None and body.command.resume is not None:
        raise BadRequestError("You must provide a thread_id when resuming.")
    if body.input is not None and body.command is not None:
        raise BadRequestError("Cannot specify both input and command.")
    if nesting_depth(_free_form_values(body)) > MAX_NESTING:
        raise UnprocessableError(f"A run's values may be nested at most {MAX_NESTING} levels deep")


def _free_form_values(body: RunCreate) -> list[Any]:
    """What a client may nest as deep as it likes (read raw: dumping a model would recurse)."""
    command = body.command
    config = body.config
    return [
        body.input,
        body.metadata,
        body.context,
        config.configurable if config else None,
        config.model_extra if config else None,
        (command.resume, command.update, _sent_inputs(command.goto)) if command else None,
    ]


def _sent_inputs(goto: str | GotoSend | list[str | GotoSend] | None) -> list[Any]:
    targets = goto if isinstance(goto, list) else [goto]
    return [target.input for target in targets if isinstance(target, GotoSend)]


MAX_NESTING: Final = 100
"""Levels of lists and objects a run's request may hold: what is stored and serialized later
(JSON encoders stop at about 250) must never fail on a value the API accepted."""


def nesting_depth(value: object, limit: int = MAX_NESTING + 1) -> int:
    """How deep ``value``'s lists and dicts go, counted up to ``limit`` at most."""
    deepest, level, pending = 0, 0, [(value, 0)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if deepest >= limit:
            return deepest
        if isinstance(item, dict):
            pending.extend((child, level + 1) for child in item.values())
        elif isinstance(item, (list, tuple)):
            pending.extend((child, level + 1) for child in item)
    return deepest


def check_recursion_limit(config: Mapping[str, Any], highest: int) -> None:
    """``recursion_limit`` bounds a run's supersteps: a client may lower it, not lift it past
    what the server allows (from the request, the thread or the assistant)."""
    value = config.get("recursion_limit")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnprocessableError(f"config.recursion_limit must be a positive integer: {value!r}")
    if value > highest:
        raise UnprocessableError(
            f"config.recursion_limit {value} is above this server's highest, {highest}"
        )


AUTH_KEY_PREFIX = "langgraph_auth_"
"""Keys of ``configurable`` only the server writes: a caller's identity, never a client's claim."""


def _without_auth_keys(configurable: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in configurable.items() if not k.startswith(AUTH_KEY_PREFIX)}


def prepare(
    body: RunCreate,
    *,
    run_id: UUID,
    thread_id: UUID,
    assistant: Assistant,
    thread_config: Mapping[str, Any] | None,
    thread_metadata: Mapping[str, Any] | None,
    headers: Mapping[str, str],
    stateless: bool,
    header_rules: HeaderRules | None = None,
    max_recursion_limit: int,
    caller: Mapping[str, Any] | None = None,
) -> PreparedRun:
    """``caller``: what the graph sees of the authenticated caller (``langgraph_auth_*``);
    ``max_recursion_limit``: the highest ``recursion_limit`` the run's config may hold."""
    validate(body, stateless=stateless)
    identity = {
        "run_id": str(run_id),
        "thread_id": str(thread_id),
        "graph_id": assistant.graph_id,
        "assistant_id": str(assistant.assistant_id),
    }
    request_config = body.config.model_dump(exclude_none=True) if body.config else {}
    config = merge_config(assistant.config, thread_config, request_config)
    check_recursion_limit(config, max_recursion_limit)
    config["configurable"] = {
        **_without_auth_keys(config.get("configurable", {})),
        **forwarded_headers(headers, header_rules or HeaderRules()),
        **(caller or {}),
        **identity,
    }
    run_metadata = dict(body.metadata or {})
    config["metadata"] = {
        **(thread_metadata or {}),
        **config.get("metadata", {}),
        **run_metadata,
        **identity,
    }
    command = body.command.model_dump(exclude_none=True) if body.command else None
    run_kwargs = RunKwargs(
        input=body.input,
        command=command,
        config=config,
        context={**assistant.context, **(body.context or {})},
        stream_mode=_stream_modes(body),
        subgraphs=bool(body.stream_subgraphs),
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        checkpoint=_checkpoint(body),
        durability=_durability(body),
        feedback_keys=body.feedback_keys,
    )
    kwargs = run_kwargs.model_dump(mode="json")
    kwargs.update(
        resumable=bool(body.stream_resumable),
        webhook=body.webhook,
        temporary=stateless and (body.on_completion or "delete") == "delete",
        checkpoint_during=body.checkpoint_during,
    )
    return PreparedRun(
        kwargs=kwargs,
        metadata={**run_metadata, "assistant_id": str(assistant.assistant_id)},
        multitask_strategy=body.multitask_strategy or "enqueue",
        after_seconds=body.after_seconds or 0.0,
        on_completion=(body.on_completion or "delete") if stateless else "keep",
        webhook=body.webhook,
    )
