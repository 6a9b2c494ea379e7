"""How a run's outcome maps onto run and thread statuses and the entries that end its stream."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest

from agentlist.bridge import outcomes
from agentlist.bridge.messages import event_write, outcome_write
from agentlist.bridge.writer import Target
from agentlist.contracts.errors import ErrorInfo
from agentlist.contracts.events import AttemptStarted, OutcomeStatus, RunEvent, RunOutcome
from agentlist.contracts.streams import END_EVENT, StreamEnd

RUN = "0190c8a2-0000-7000-8000-000000000001"
THREAD = "0190c8a2-0000-7000-8000-000000000002"


def make(status: OutcomeStatus, **fields: Any) -> RunOutcome:
    return RunOutcome(run_id=RUN, thread_id=THREAD, attempt=2, seq=7, status=status, **fields)


@pytest.mark.parametrize(
    ("status", "end"),
    [
        ("success", "success"),
        ("error", "error"),
        ("timeout", "timeout"),
        ("interrupted", "interrupted"),
        ("rollback", "interrupted"),
    ],
)
def test_end_status(status: OutcomeStatus, end: str) -> None:
    assert outcomes.end_status(make(status)) == end
    assert outcomes.ends_run(make(status))


def test_released_does_not_end_the_run() -> None:
    assert not outcomes.ends_run(make("released"))


def test_failures_carry_an_error_even_when_the_worker_sent_none() -> None:
    boom = ErrorInfo(error="ValueError", message="boom")
    assert outcomes.failure(make("error", error=boom)) == boom
    assert outcomes.failure(make("error")) == ErrorInfo(error="RunError", message="The run failed.")
    assert outcomes.failure(make("timeout")) == ErrorInfo(
        error="TimeoutError", message="The run timed out."
    )
    assert outcomes.failure(make("success", error=boom)) is None


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (make("success"), "idle"),
        (make("error"), "error"),
        (make("timeout"), "error"),
        (make("success", next=["ask"]), "interrupted"),
        (make("success", interrupts={"t1": [{"value": "?", "id": "i1"}]}), "interrupted"),
        (make("interrupted"), "idle"),
        (make("rollback", next=["n"]), "interrupted"),
    ],
)
def test_thread_status(outcome: RunOutcome, expected: str) -> None:
    assert outcomes.thread_status(outcome) == expected


@pytest.mark.parametrize(
    ("status", "run_attempt", "run_status", "expected"),
    [
        ("success", 2, "success", False),  # redelivered after it was applied
        ("error", 2, "error", False),
        ("success", 3, "running", True),  # another attempt runs it
        ("success", 3, "success", True),
        ("success", 2, "pending", True),  # swept back to the queue
        ("success", 2, "running", True),
        ("released", 2, "pending", False),  # redelivered release
        ("released", 2, "running", True),
        ("released", 3, "pending", True),
    ],
)
def test_superseded(
    status: OutcomeStatus, run_attempt: int, run_status: str, expected: bool
) -> None:
    outcome = make(status)
    assert outcomes.superseded(outcome, run_attempt=run_attempt, run_status=run_status) is expected


def entries(outcome: RunOutcome) -> list[tuple[Target, str, Any]]:
    write = outcome_write(outcome)
    return [(e.target, e.event, orjson.loads(e.data)) for e in write.entries]


def test_success_writes_the_end_and_run_done() -> None:
    written = entries(make("success", values={"x": 1}, next=[]))
    assert written == [
        (
            Target.END,
            END_EVENT,
            StreamEnd(status="success", values={"x": 1}).model_dump(mode="json"),
        ),
        (Target.THREAD, "metadata", {"status": "run_done", "run_id": RUN}),
    ]


def test_error_writes_the_error_event_first() -> None:
    boom = ErrorInfo(error="ValueError", message="boom")
    written = entries(make("error", error=boom))
    assert written[0] == (Target.BOTH, "error", {"error": "ValueError", "message": "boom"})
    end = StreamEnd.model_validate(written[1][2])
    assert end.status == "error" and end.error == boom
    assert written[2][1] == "metadata"


def test_rollback_ends_as_interrupted() -> None:
    end = StreamEnd.model_validate(entries(make("rollback"))[0][2])
    assert end.status == "interrupted"


def test_released_writes_nothing() -> None:
    assert entries(make("released")) == []


def test_attempt_started_becomes_metadata() -> None:
    started = AttemptStarted(run_id=RUN, thread_id=THREAD, attempt=3, worker_id="w1")
    (entry,) = event_write(started).entries
    assert (entry.target, entry.event) == (Target.BOTH, "metadata")
    assert orjson.loads(entry.data) == {"run_id": RUN, "attempt": 3}


def test_events_keep_their_name_and_data_on_one_line() -> None:
    huge = 2**70  # valid JSON that orjson refuses to write
    event = RunEvent(
        run_id=RUN, thread_id=THREAD, attempt=1, seq=4, event="values|a:1", data={"n": huge}
    )
    write = event_write(event)
    (entry,) = write.entries
    assert entry.event == "values|a:1"
    assert "\n" not in entry.data
    assert json.loads(entry.data) == {"n": huge}
    assert (write.attempt, write.seq) == (1, 4)
