"""Publishing the scheduler's messages on a run's JetStream subject."""

from __future__ import annotations

from nats.js import JetStreamContext

from agentlist.contracts import subjects
from agentlist.contracts.events import AttemptStarted, RunOutcome


async def publish_run_message(
    js: JetStreamContext, message: AttemptStarted | RunOutcome, ack_wait: float
) -> None:
    """Publish and wait for JetStream's ack. The ``Nats-Msg-Id`` makes a repeat harmless."""
    msg_id = subjects.event_msg_id(message.run_id, message.attempt, message.seq)
    await js.publish(
        subjects.run_events(message.run_id),
        message.model_dump_json().encode(),
        timeout=ack_wait,
        headers={"Nats-Msg-Id": msg_id},
    )
