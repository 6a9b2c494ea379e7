"""The API believes a queue-group answer about thread state only if it is about the thread it
asked about (issue 11: a fake member of the group answered with forged state). Real NATS; the
"workers" are raw members of the queue group, answering as a broken or lying one would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
import pytest_asyncio
from nats.aio.client import Client
from nats.aio.msg import Msg

from agentlist.api.errors import ServiceUnavailableError
from agentlist.api.stateops import answers, ask
from agentlist.contracts import subjects
from agentlist.contracts.state import GetState, StateReply
from agentlist.launcher import Stack

ASKED = str(uuid.uuid4())
OTHER = str(uuid.uuid4())


def state_of(thread_id: str, values: Any) -> dict[str, Any]:
    checkpoint = {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": "c1"}
    return {"values": values, "next": [], "checkpoint": checkpoint, "parent_checkpoint": None}


@pytest_asyncio.fixture
async def nc(servers: Stack) -> AsyncIterator[Client]:
    client = await nats.connect(servers.nats_url)
    yield client
    await client.drain()


async def responder(nc: Client, reply: StateReply) -> str:
    """A member of a fresh graph's state queue group that answers every request with
    ``reply``; returns the graph id."""
    graph_id = f"g-{uuid.uuid4().hex[:8]}"

    async def answer(msg: Msg) -> None:
        await msg.respond(reply.model_dump_json().encode())

    await nc.subscribe(subjects.graph_state(graph_id), queue=subjects.GRAPH_STATE_QUEUE, cb=answer)
    await nc.flush()
    return graph_id


@pytest.mark.parametrize(
    "reply",
    [
        StateReply(ok=True, thread_id=OTHER, result=state_of(OTHER, {"forged": True})),
        StateReply(ok=True, result=state_of(ASKED, {"forged": True})),  # names no thread
        StateReply(ok=True, thread_id=ASKED, result=state_of(OTHER, {"forged": True})),
        StateReply(
            ok=False, thread_id=OTHER, status_code=404, error=None
        ),  # a failure about another thread is no answer either
    ],
    ids=["other-thread", "no-thread", "other-checkpoint", "other-failure"],
)
async def test_an_answer_about_another_thread_is_refused(nc: Client, reply: StateReply) -> None:
    graph_id = await responder(nc, reply)
    with pytest.raises(ServiceUnavailableError, match="No trustworthy answer"):
        await ask(nc, graph_id, GetState(thread_id=ASKED), 5)


async def test_an_answer_about_the_thread_asked_about_is_shown(nc: Client) -> None:
    state = state_of(ASKED, {"real": True})
    graph_id = await responder(nc, StateReply(ok=True, thread_id=ASKED, result=state))
    assert await ask(nc, graph_id, GetState(thread_id=ASKED), 5) == state


def test_every_checkpoint_of_a_history_or_an_update_must_be_the_threads() -> None:
    mine, theirs = state_of(ASKED, 1), state_of(OTHER, 2)
    assert answers(StateReply(ok=True, thread_id=ASKED, result=[mine, mine]), ASKED)
    assert not answers(StateReply(ok=True, thread_id=ASKED, result=[mine, theirs]), ASKED)
    update = {"checkpoint": {"thread_id": OTHER, "checkpoint_id": "c2"}}
    assert not answers(StateReply(ok=True, thread_id=ASKED, result=update), ASKED)
