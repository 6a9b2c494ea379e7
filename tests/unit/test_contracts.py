"""The contracts are the mesh's one source of truth; these tests keep them so."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import ValidationError

from agentlist.contracts import (
    RUN_MESSAGE,
    STATE_REQUEST,
    AttemptStarted,
    GetState,
    RunEvent,
    RunOutcome,
    subjects,
)
from agentlist.contracts.events import new_lease_token
from agentlist.core.nats import below_floor

REPO = Path(__file__).resolve().parents[2]


def _load_exporter() -> ModuleType:
    """``contracts/export.py``: a developer's tool beside the distribution, not part of it."""
    spec = importlib.util.spec_from_file_location("contracts_export", REPO / "contracts/export.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


exporter = _load_exporter()
SCHEMA_DIR: Path = exporter.SCHEMA_DIR
drift = exporter.drift
render = exporter.render


def test_committed_schema_matches_the_models() -> None:
    assert drift() == [], "run `python contracts/export.py` and commit contracts/schema"


def test_drift_is_detected(tmp_path: Path) -> None:
    for name, content in render().items():
        (tmp_path / name).write_text(content)
    assert drift(tmp_path) == []
    stale = tmp_path / "agentlist.run.event.v1.schema.json"
    schema = json.loads(stale.read_text())
    del schema["properties"]["seq"]
    stale.write_text(json.dumps(schema))
    assert drift(tmp_path) == ["agentlist.run.event.v1.schema.json"]


def test_subject_list_is_exported_with_every_name() -> None:
    exported = json.loads((SCHEMA_DIR / "subjects.json").read_text())
    assert exported == subjects.all_names()
    for name, value in exported.items():
        if name != "PREFIX" and value.startswith("agentlist."):
            assert value.startswith(f"{subjects.PREFIX}."), name


def test_no_subject_is_spelled_outside_contracts() -> None:
    spelled = re.compile(r"""["']agentlist\.v\d+\.""")
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("services", "compose", "benchmarks")
        for path in (REPO / folder).rglob("*")
        if path.suffix in {".py", ".ts", ".js"}
        and "node_modules" not in path.parts
        and "generated" not in path.parts
        and spelled.search(path.read_text(errors="ignore"))
    ]
    assert offenders == []


@pytest.mark.parametrize("bad", ["a.b", "a*", ">", "has space", ""])
def test_subject_tokens_refuse_what_would_change_routing(bad: str) -> None:
    with pytest.raises(ValueError, match="subject token"):
        subjects.graph_state(bad)


def test_builders_fill_templates() -> None:
    run_id = "0196f0e2-7a1b-7c3d-8e4f-0123456789ab"
    assert subjects.run_events(run_id) == f"agentlist.v1.runs.{run_id}.events"
    assert (
        subjects.worker_dispatch("search", "py-host-1")
        == "agentlist.v1.workers.search.py-host-1.dispatch"
    )
    assert subjects.registry_register("search") == "agentlist.v1.registry.register.search"
    assert subjects.team_of(subjects.registry_heartbeat("search")) == "search"
    assert subjects.event_msg_id(run_id, 2, 7, None) == f"{run_id}:2:7"


def test_message_ids_are_bound_to_the_lease_token_without_showing_it() -> None:
    """Without the token, no one can take the id of a message to come (JetStream would then
    drop the real message as a duplicate of theirs)."""
    msg_id = subjects.event_msg_id("r", 2, 7, "tok")
    assert msg_id == "r:2:7:1a7674eb4ee78df7"  # as the TypeScript worker's eventMsgId
    assert "tok" not in msg_id.split(":", 3)[3]
    assert subjects.event_msg_id("r", 2, 7, "other") != msg_id


def test_run_messages_are_told_apart_by_type_and_tolerate_new_fields() -> None:
    common = {"run_id": "r", "thread_id": "t", "attempt": 1, "future_field": {"x": 1}}
    fence = RUN_MESSAGE.validate_python(
        {**common, "type": "agentlist.run.attempt_started.v1", "worker_id": "w"}
    )
    event = RUN_MESSAGE.validate_python(
        {**common, "type": "agentlist.run.event.v1", "seq": 1, "event": "values", "data": {"a": 1}}
    )
    outcome = RUN_MESSAGE.validate_python(
        {**common, "type": "agentlist.run.outcome.v1", "seq": 2, "status": "success"}
    )
    assert isinstance(fence, AttemptStarted)
    assert isinstance(event, RunEvent)
    assert isinstance(outcome, RunOutcome)
    assert isinstance(
        STATE_REQUEST.validate_python({"type": "agentlist.state.get.v1", "thread_id": "t"}),
        GetState,
    )


def test_events_start_after_the_fence() -> None:
    with pytest.raises(ValidationError):
        RunEvent(run_id="r", thread_id="t", attempt=1, seq=0, event="values")


def test_lease_tokens_are_fresh_secrets_that_no_repr_shows() -> None:
    tokens = {new_lease_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) == 22 for token in tokens)  # 128 bits, URL-safe base64
    token = tokens.pop()
    common = {"run_id": "r", "thread_id": "t", "attempt": 1, "token": token}
    messages: list[AttemptStarted | RunEvent | RunOutcome] = [
        AttemptStarted(**common, worker_id="w"),
        RunEvent(**common, seq=1, event="values"),
        RunOutcome(**common, seq=2, status="success"),
    ]
    assert all(message.token == token for message in messages)
    assert all(token not in repr(message) for message in messages)
    assert all(token in message.model_dump_json() for message in messages)  # on the wire only


def test_a_nats_server_below_the_floor_is_refused() -> None:
    assert below_floor((2, 9, 25))
    assert not below_floor((2, 10, 0))
    assert not below_floor((2, 15, 1))
    assert not below_floor((3, 0, 0))
