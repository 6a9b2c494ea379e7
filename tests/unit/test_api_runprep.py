"""How a run request becomes the stored, dispatched run (langgraph-api's merge rules)."""

from __future__ import annotations

import uuid

import pytest

from agentlist.api.errors import BadRequestError
from agentlist.api.runprep import (
    Assistant,
    PreparedRun,
    forwarded_headers,
    merge_config,
    nesting_depth,
    prepare,
)
from agentlist.api.schemas import RunCreate
from agentlist.contracts import RunKwargs
from agentlist.core.langgraph_json import HeaderRules

ASSISTANT = Assistant(
    assistant_id=uuid.UUID(int=1),
    graph_id="agent",
    config={"configurable": {"model": "a", "temperature": 0}, "tags": ["assistant"]},
    context={"tone": "dry"},
    metadata={"owner": "x"},
)
RUN_ID, THREAD_ID = uuid.UUID(int=2), uuid.UUID(int=3)


def _prepare(
    body: dict[str, object], stateless: bool = False, headers: dict[str, str] | None = None
) -> PreparedRun:
    return prepare(
        RunCreate.model_validate({"assistant_id": "agent", **body}),
        run_id=RUN_ID,
        thread_id=THREAD_ID,
        assistant=ASSISTANT,
        thread_config={"configurable": {"model": "b"}},
        thread_metadata={"topic": "t"},
        headers=headers or {},
        stateless=stateless,
        max_recursion_limit=1000,
    )


def test_config_layers_merge_key_by_key_and_carry_the_runs_identity() -> None:
    prepared = _prepare({"config": {"configurable": {"temperature": 1}, "recursion_limit": 5}})
    config = prepared.kwargs["config"]
    assert config["configurable"] == {
        "model": "b",
        "temperature": 1,
        "run_id": str(RUN_ID),
        "thread_id": str(THREAD_ID),
        "graph_id": "agent",
        "assistant_id": str(ASSISTANT.assistant_id),
    }
    assert config["tags"] == ["assistant"] and config["recursion_limit"] == 5
    assert config["metadata"]["topic"] == "t" and config["metadata"]["run_id"] == str(RUN_ID)


def test_the_stored_kwargs_are_a_valid_dispatch_document() -> None:
    prepared = _prepare({"input": {"x": 1}, "stream_mode": "updates", "stream_resumable": True})
    kwargs = RunKwargs.model_validate(prepared.kwargs)
    assert kwargs.input == {"x": 1} and kwargs.stream_mode == ["updates"]
    assert prepared.kwargs["resumable"] is True
    assert kwargs.context == {"tone": "dry"}


def test_defaults_are_langgraph_apis() -> None:
    prepared = _prepare({})
    assert prepared.kwargs["stream_mode"] == ["values"]
    assert prepared.kwargs["durability"] == "async"
    assert prepared.multitask_strategy == "enqueue"
    assert prepared.on_completion == "keep"
    assert _prepare({}, stateless=True).on_completion == "delete"
    assert _prepare({"checkpoint_during": False}).kwargs["durability"] == "exit"


def test_configurable_and_context_together_are_refused() -> None:
    with pytest.raises(BadRequestError, match="both configurable and context"):
        _prepare({"config": {"configurable": {"a": 1}}, "context": {"b": 2}})


def test_resume_needs_a_thread() -> None:
    with pytest.raises(BadRequestError, match="thread_id when resuming"):
        _prepare({"command": {"resume": "yes"}}, stateless=True)
    assert _prepare({"command": {"resume": "yes"}}).kwargs["command"] == {"resume": "yes"}


def test_checkpoint_id_alone_forks_from_it() -> None:
    assert _prepare({"checkpoint_id": "c1"}).kwargs["checkpoint"]["checkpoint_id"] == "c1"


def test_x_headers_reach_configurable_but_credentials_do_not() -> None:
    headers = {
        "X-Request-Source": "ui",
        "x-api-key": "secret",
        "User-Agent": "sdk",
        "Accept": "*/*",
    }
    assert forwarded_headers(headers, HeaderRules()) == {
        "x-request-source": "ui",
        "user-agent": "sdk",
    }
    configurable = _prepare({}, headers=headers).kwargs["config"]["configurable"]
    assert "x-api-key" not in configurable and configurable["x-request-source"] == "ui"


def test_merge_config_later_layers_win() -> None:
    assert merge_config(
        {"a": 1, "configurable": {"x": 1}}, None, {"a": 2, "configurable": {"y": 2}}
    ) == {
        "a": 2,
        "configurable": {"x": 1, "y": 2},
    }


def test_configurable_headers_rules_from_langgraph_json() -> None:
    rules = HeaderRules(includes=("x-configurable-*", "authorization"), excludes=("*secret*",))
    headers = {
        "X-Configurable-Org": "acme",
        "X-Other": "no",
        "Authorization": "Bearer t",
        "x-configurable-secret": "s",
    }
    assert forwarded_headers(headers, rules) == {
        "x-configurable-org": "acme",
        "authorization": "Bearer t",
    }


def test_nesting_depth_counts_lists_and_objects_and_stops_at_its_limit() -> None:
    assert nesting_depth("text") == 0
    assert nesting_depth({"a": [{"b": 1}]}) == 3
    deep: list[object] = []
    for _ in range(10_000):
        deep = [deep]
    assert nesting_depth(deep, limit=50) == 50
