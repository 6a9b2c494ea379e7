"""Conformance checklist 42-48 and 50-52: interrupts, resuming, double-texting, cancelling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError
from serverkit import own_servers, services_on
from waitkit import eventually, run_reaches

from agentlist.launcher import Stack

HELLO: Any = {"messages": [{"role": "user", "content": "hi"}]}
SLOW: Any = {"delay": 0.4, "total": 10}


async def test_42_interrupt_shows_in_values_state_and_thread(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    parts = [p async for p in sdk.runs.stream(thread_id, "interrupts", input={"question": "q"})]
    interrupted = [p.data for p in parts if p.event == "values" and "__interrupt__" in p.data]
    assert interrupted and interrupted[-1]["__interrupt__"][0]["value"] == "q"
    assert (await sdk.threads.get(thread_id))["status"] == "interrupted"
    state = await sdk.threads.get_state(thread_id)
    assert state["interrupts"][0]["value"] == "q" and state["next"] == ["ask"]
    run_id = parts[0].data["run_id"]
    assert (await sdk.runs.get(thread_id, run_id))["status"] == "success"


async def test_43_resume_with_command(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.wait(thread_id, "interrupts", input={"question": "q"})
    assert first["__interrupt__"][0]["value"] == "q"
    values = await sdk.runs.wait(thread_id, "interrupts", command={"resume": "a"})
    assert values["answer"] == "a"
    assert (await sdk.threads.get(thread_id))["status"] == "idle"
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await sdk.runs.wait(None, "interrupts", command={"resume": "a"})
    assert refused.value.response.status_code == 400


async def test_44_interrupt_before_a_node(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(thread_id, "tools", input=HELLO, interrupt_before=["tools"])
    assert (await sdk.threads.get_state(thread_id))["next"] == ["tools"]
    assert (await sdk.threads.get(thread_id))["status"] == "interrupted"
    finished = await sdk.runs.wait(thread_id, "tools", input=None)
    assert finished["messages"][-1]["content"] == "tool result"


async def test_45_reject_while_active(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    await sdk.runs.create(thread_id, "slow", input=SLOW)
    with pytest.raises(ConflictError):
        await sdk.runs.create(thread_id, "agent", input=HELLO, multitask_strategy="reject")
    assert len(await sdk.runs.list(thread_id)) == 1
    await sdk.runs.cancel_many(
        thread_id=thread_id, run_ids=[r["run_id"] for r in await sdk.runs.list(thread_id)]
    )


async def test_46_enqueue_runs_in_order(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "slow", input={"delay": 0.3, "total": 2})
    second = await sdk.runs.create(
        thread_id, "slow", input={"delay": 0.01, "total": 1}, multitask_strategy="enqueue"
    )
    await wait_status(thread_id, first["run_id"], "running")
    assert (await sdk.runs.get(thread_id, second["run_id"]))["status"] == "pending"
    await sdk.runs.join(thread_id, second["run_id"])
    done = [await sdk.runs.get(thread_id, r["run_id"]) for r in (first, second)]
    assert [r["status"] for r in done] == ["success", "success"]


async def test_47_interrupt_strategy(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await wait_status(thread_id, first["run_id"], "running")
    second = await sdk.runs.create(
        thread_id, "slow", input={"delay": 0.01, "total": 1}, multitask_strategy="interrupt"
    )
    await sdk.runs.join(thread_id, second["run_id"])
    assert (await wait_status(thread_id, first["run_id"], "interrupted"))["status"] == "interrupted"
    assert (await sdk.runs.get(thread_id, second["run_id"]))["status"] == "success"


async def test_48_rollback_strategy(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await wait_status(thread_id, first["run_id"], "running")
    await eventually(
        lambda: sdk.threads.get_state(thread_id),
        lambda state: state["values"].get("steps"),
        within=30,
        what="the first run's checkpoint with a step in it",
    )
    second = await sdk.runs.create(thread_id, "agent", input=HELLO, multitask_strategy="rollback")
    values = await sdk.runs.join(thread_id, second["run_id"])
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, first["run_id"])
    assert "steps" not in values, "the rolled-back run left nothing in the thread"
    assert "steps" not in (await sdk.threads.get_state(thread_id))["values"]
    assert (await sdk.runs.get(thread_id, second["run_id"]))["status"] == "success"


async def test_50_cancel_a_running_run(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await wait_status(thread_id, run["run_id"], "running")
    await sdk.runs.cancel(thread_id, run["run_id"])
    assert (await wait_status(thread_id, run["run_id"], "interrupted"))["status"] == "interrupted"

    waited = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await wait_status(thread_id, waited["run_id"], "running")
    await sdk.runs.cancel(thread_id, waited["run_id"], wait=True)
    assert (await sdk.runs.get(thread_id, waited["run_id"]))["status"] == "interrupted"

    rolled = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await wait_status(thread_id, rolled["run_id"], "running")
    await sdk.runs.cancel(thread_id, rolled["run_id"], action="rollback", wait=True)
    with pytest.raises(NotFoundError):
        await sdk.runs.get(thread_id, rolled["run_id"])


async def test_50b_cancel_a_pending_run(sdk: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    first = await sdk.runs.create(thread_id, "slow", input=SLOW)
    queued = await sdk.runs.create(thread_id, "agent", input=HELLO)
    await sdk.runs.cancel(thread_id, queued["run_id"], wait=True)
    assert (await sdk.runs.get(thread_id, queued["run_id"]))["status"] == "interrupted"
    assert (await sdk.runs.get(thread_id, first["run_id"]))["status"] in {"pending", "running"}
    await sdk.runs.cancel_many(thread_id=thread_id, run_ids=[first["run_id"]])


async def test_51_cancel_many(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run = await sdk.runs.create(thread_id, "slow", input=SLOW)
    await sdk.runs.cancel_many(thread_id=thread_id, run_ids=[run["run_id"]])
    await wait_status(thread_id, run["run_id"], "interrupted")
    with pytest.raises(UnprocessableEntityError):
        await sdk.http.post("/runs/cancel", json={"status": "pending", "thread_id": thread_id})


@pytest.fixture(scope="module")
def lone_stack(tmp_path_factory: pytest.TempPathFactory, log_dir: Path) -> Iterator[Stack]:
    """A mesh on servers of its own: cancelling by status reaches every active run of the
    tenant, and on the shared stack those include other tests' runs."""
    with (
        own_servers() as servers,
        services_on(servers, tmp_path_factory.mktemp("lone"), log_dir / "lone") as stack,
    ):
        yield stack


async def test_51_cancel_many_by_status(lone_stack: Stack) -> None:
    sdk = get_client(url=lone_stack.api_url)
    busy = (await sdk.threads.create())["thread_id"]
    running = await sdk.runs.create(busy, "slow", input=SLOW)
    await run_reaches(sdk, busy, running["run_id"], "running")
    later = (await sdk.threads.create())["thread_id"]
    pending = await sdk.runs.create(later, "agent", input=HELLO, after_seconds=60)
    await sdk.runs.cancel_many(status="pending")
    await run_reaches(sdk, later, pending["run_id"], "interrupted")
    assert (await sdk.runs.get(busy, running["run_id"]))["status"] == "running"
    await sdk.runs.cancel_many(status="all")
    await run_reaches(sdk, busy, running["run_id"], "interrupted")


async def test_52_on_disconnect(sdk: Any, wait_status: Any) -> None:
    thread_id = (await sdk.threads.create())["thread_id"]
    run_id = None
    async for part in sdk.runs.stream(
        thread_id, "slow", input={"delay": 0.3, "total": 5}, on_disconnect="cancel"
    ):
        run_id = part.data["run_id"]
        break
    assert run_id is not None
    await wait_status(thread_id, run_id, "interrupted")
    async for part in sdk.runs.stream(thread_id, "slow", input={"delay": 0.1, "total": 3}):
        run_id = part.data["run_id"]
        break
    await wait_status(thread_id, run_id, "success")
