"""Publishing one attempt's events and outcome to JetStream: numbered, in order, deduplicated.

Events are pipelined (up to ``window`` unacknowledged on the wire); a publish that fails or
is not acknowledged in time is sent again with the same ``Nats-Msg-Id``, so JetStream keeps
one copy. The outcome is published only after every event is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from pydantic import BaseModel

from agentlist.contracts import ErrorInfo, OutcomeStatus, RunEvent, RunOutcome, subjects
from agentlist.worker.serde import encode_wire

logger = logging.getLogger(__name__)

_MSG_ID_HEADER = "Nats-Msg-Id"
_RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class RunRef:
    run_id: str
    thread_id: str
    attempt: int
    token: str | None = field(default=None, repr=False)
    """The attempt's lease token from its dispatch: every message carries it; never logged."""


@dataclass(frozen=True)
class OutcomeFields:
    status: OutcomeStatus
    values: Any = None
    next: tuple[str, ...] = ()
    interrupts: dict[str, list[dict[str, Any]]] | None = None
    error: ErrorInfo | None = None
    checkpoint_id: str | None = None


@dataclass
class _Message:
    seq: int
    envelope: BaseModel
    raw: dict[str, Any]
    payload: bytes
    ack: asyncio.Future[PubAck] | None = None

    def shrunk(self) -> bytes:
        """The message with its graph values replaced by an error: too big for NATS."""
        error = {
            "error": "PayloadTooLarge",
            "message": f"{len(self.payload)} bytes exceed the NATS server's max_payload",
        }
        return encode_wire(self.envelope, **dict.fromkeys(self.raw, error))


class EventPublisher:
    def __init__(
        self, js: JetStreamContext, run: RunRef, window: int = 64, ack_timeout: float = 5.0
    ) -> None:
        self._js = js
        self._run = run
        self._subject = subjects.run_events(run.run_id)
        self._window = window
        self._ack_timeout = ack_timeout
        self._seq = 0
        self._in_flight: deque[_Message] = deque()

    @property
    def published(self) -> int:
        """Messages numbered so far (the last ``seq``)."""
        return self._seq

    async def event(self, name: str, data: Any) -> None:
        self._seq += 1
        envelope = RunEvent(
            run_id=self._run.run_id,
            thread_id=self._run.thread_id,
            attempt=self._run.attempt,
            seq=self._seq,
            token=self._run.token,
            event=name,
        )
        message = _Message(self._seq, envelope, {"data": data}, encode_wire(envelope, data=data))
        # Queued before sending, and dropped only once stored: a cancellation at any await
        # below leaves it for ``flush`` to resend, so no ``seq`` is ever skipped.
        self._in_flight.append(message)
        message.ack = await self._send_async(message)
        while len(self._in_flight) >= self._window:
            await self._settle(self._in_flight[0])
            self._in_flight.popleft()

    async def flush(self) -> None:
        """Wait until every event published so far is stored."""
        while self._in_flight:
            await self._settle(self._in_flight[0])
            self._in_flight.popleft()

    async def outcome(self, fields: OutcomeFields) -> None:
        """The attempt's last message, after all its events."""
        await self.flush()
        self._seq += 1
        envelope = RunOutcome(
            run_id=self._run.run_id,
            thread_id=self._run.thread_id,
            attempt=self._run.attempt,
            seq=self._seq,
            token=self._run.token,
            status=fields.status,
            next=list(fields.next),
            error=fields.error,
            checkpoint_id=fields.checkpoint_id,
        )
        raw = {"values": fields.values, "interrupts": fields.interrupts or {}}
        message = _Message(self._seq, envelope, raw, encode_wire(envelope, **raw))
        await self._send_until_stored(message)

    async def _send_async(self, message: _Message) -> asyncio.Future[PubAck] | None:
        try:
            return await self._js.publish_async(
                self._subject,
                message.payload,
                headers=self._headers(message.seq),
                # No stall timeout: nats-py would wrap each publish in ``wait_for``, a task
                # switch per event that also costs one socket write per event. The window
                # bounds what is pending.
            )
        except (TimeoutError, NatsError) as exc:
            logger.debug("publish of %s #%d failed: %r", self._run.run_id, message.seq, exc)
            return None

    async def _settle(self, message: _Message) -> None:
        if message.ack is not None and await self._acknowledged(message.ack, message.seq):
            return
        message.ack = None
        await self._send_until_stored(message)

    async def _acknowledged(self, ack: asyncio.Future[PubAck], seq: int) -> bool:
        if ack.cancelled():
            return False
        try:
            # Shielded: if the caller is cancelled, the acknowledgement may still arrive.
            # ``asyncio.timeout``, not ``wait_for``: before Python 3.12 ``wait_for`` loses a
            # cancellation that arrives together with the acknowledgement.
            async with asyncio.timeout(self._ack_timeout):
                await asyncio.shield(ack)
        except (TimeoutError, NatsError) as exc:
            ack.cancel()  # frees its slot in nats-py's table of pending publishes
            logger.info("%s #%d not stored (%r); resending", self._run.run_id, seq, exc)
            return False
        return True

    async def _send_until_stored(self, message: _Message) -> None:
        """Retry for as long as the attempt lives (cancelling the attempt stops it): the
        events stream may not exist yet, NATS may be restarting."""
        attempt = 0
        while True:
            try:
                await self._js.publish(
                    self._subject,
                    message.payload,
                    timeout=self._ack_timeout,
                    headers=self._headers(message.seq),
                )
                return
            except MaxPayloadError:
                logger.error("%s #%d is too large to publish", self._run.run_id, message.seq)
                message.payload = message.shrunk()
                continue
            except (TimeoutError, NatsError) as exc:
                delay = _RETRY_DELAYS[min(attempt, len(_RETRY_DELAYS) - 1)]
                attempt += 1
                if attempt in (1, 10) or attempt % 50 == 0:
                    logger.warning(
                        "publishing %s #%d failed (%r); retrying",
                        self._run.run_id,
                        message.seq,
                        exc,
                    )
                await asyncio.sleep(delay)

    def _headers(self, seq: int) -> dict[str, str]:
        msg_id = subjects.event_msg_id(self._run.run_id, self._run.attempt, seq, self._run.token)
        return {_MSG_ID_HEADER: msg_id}
