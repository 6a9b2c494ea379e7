"""Ending a run in its worker's place: publish the fence, then the outcome.

The bridge applies a run's messages only for the run's newest attempt, in ``(attempt, seq)``
order, and it alone moves a run to its end (status, thread status, end of stream, the thread's
next run). So a process that ends a run no worker will end (the API cancelling a pending run,
the scheduler finishing a run whose worker was lost) does not write the end itself; it becomes
the run's next owner and ends it the way a worker would:

1. in Postgres, fenced on the attempt it replaces, it takes the run as attempt ``n + 1`` under
   an owner id of its own and with a fresh lease token (``new_lease_token``) that it alone
   knows (that is the caller's part). A fresh token, not the run's current one: attempt ``n``'s
   worker knows that one, and an attempt has one writer;
2. it publishes ``AttemptStarted(n + 1)`` (seq 0) with that token, which fences attempt ``n``
   off: that attempt's late messages become stale and are dropped;
3. it publishes the attempt's ``RunOutcome`` at seq 1, with the same token.

Both messages carry the ``Nats-Msg-Id`` of their ``(run, attempt, seq)``, so publishing them
again after a failure ends the run once: JetStream drops the repeat within its duplicate window
and the bridge drops what it already applied after it. See ``docs/protocol.md``.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from agentlist.contracts import subjects
from agentlist.contracts.events import AttemptStarted, RunOutcome

OUTCOME_SEQ = 1
"""The outcome of a taken-over attempt follows its fence directly: nothing ran in between."""


async def publish_run_message(
    js: JetStreamContext, message: AttemptStarted | RunOutcome, *, ack_wait: float
) -> None:
    """Publish on the run's subject and wait for JetStream's ack."""
    msg_id = subjects.event_msg_id(message.run_id, message.attempt, message.seq, message.token)
    await js.publish(
        subjects.run_events(message.run_id),
        message.model_dump_json().encode(),
        timeout=ack_wait,
        headers={"Nats-Msg-Id": msg_id},
    )


async def end_in_workers_place(
    js: JetStreamContext, outcome: RunOutcome, *, owner: str, ack_wait: float
) -> None:
    """Steps 2 and 3 for an attempt that ``owner`` took over: its fence, then ``outcome``
    (which carries the lease token ``owner`` stored when it took the attempt)."""
    if outcome.seq != OUTCOME_SEQ:
        raise ValueError(f"a taken-over attempt ends at seq {OUTCOME_SEQ}, not {outcome.seq}")
    if not outcome.token:
        raise ValueError("a taken-over attempt's outcome carries the attempt's lease token")
    fence = AttemptStarted(
        run_id=outcome.run_id,
        thread_id=outcome.thread_id,
        attempt=outcome.attempt,
        worker_id=owner,
        token=outcome.token,
    )
    await publish_run_message(js, fence, ack_wait=ack_wait)
    await publish_run_message(js, outcome, ack_wait=ack_wait)
