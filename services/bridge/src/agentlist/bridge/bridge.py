"""Fetched run messages: written in order to Redis, outcomes to Postgres first, then acked."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import asyncpg
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import ValidationError

from agentlist.bridge import fences, outcomes, queries, settle
from agentlist.bridge.messages import Inbound, decode, event_write, outcome_write
from agentlist.bridge.ordering import EarlyPolicy, Verdict, plan_rounds
from agentlist.bridge.retry import TRANSIENT, is_transient
from agentlist.bridge.settings import BridgeSettings
from agentlist.bridge.writer import RunWrites, StreamWriter, Write
from agentlist.contracts import subjects
from agentlist.contracts.events import RunOutcome

logger = logging.getLogger(__name__)


class Bridge:
    """Bridges batches of fetched messages, keeping early ones for the next batch a while:
    their predecessors are most often in another bridge's batch, written a moment later."""

    def __init__(
        self, nc: Client, pool: asyncpg.Pool, writer: StreamWriter, settings: BridgeSettings
    ) -> None:
        self._nc = nc
        self._pool = pool
        self._writer = writer
        self._early = EarlyPolicy(
            hold=settings.early_hold_seconds,
            nak_delay=settings.nak_delay_seconds,
            max_nak_delay=settings.max_nak_delay_seconds,
        )
        self._live_ttl = settings.live_stream_ttl_seconds
        self._retention = settings.stream_retention_seconds
        self._max_failed_deliveries = settings.max_failed_deliveries
        self._held: list[Inbound] = []

    @property
    def holding(self) -> bool:
        """Whether early messages wait here for the next :meth:`process`."""
        return bool(self._held)

    async def process(self, msgs: Sequence[Msg]) -> None:
        """Bridge ``msgs`` together with the held messages. On a transient error (a server
        is down) every message not settled is handed back to JetStream, then it is raised."""
        batch = [*self._held, *await self._receive(msgs)]
        self._held = []
        try:
            batch = await self._vouched(batch)
            for step in plan_rounds([inbound.position for inbound in batch]):
                await self._write_events([batch[i] for i in step.events])
                await self._finish_outcomes([batch[i] for i in step.outcomes])
        except TRANSIENT:
            self._held = []
            await self._hand_back(batch)
            raise

    async def release(self) -> None:
        """Hand the held messages back to JetStream at once (the bridge is stopping)."""
        held, self._held = self._held, []
        await self._hand_back(held, delay=0)

    async def _receive(self, msgs: Sequence[Msg]) -> list[Inbound]:
        """Decode; a payload no contract reads is terminated, never retried."""
        batch: list[Inbound] = []
        for msg in msgs:
            try:
                message = decode(msg)
            except ValidationError as exc:
                logger.error("dropping an unreadable message on %s: %s", msg.subject, exc)
                await msg.term()
                continue
            batch.append(Inbound(msg, message, msg.metadata.num_delivered))
        return batch

    async def _vouched(self, batch: list[Inbound]) -> list[Inbound]:
        """The batch without the messages the runs' rows do not vouch for (dropped here).

        Fences, and messages found ``unfenced``, are checked against their runs' rows in one
        query for the whole batch; the others need no check here (``append.lua`` holds them
        to their attempt's token).
        """
        unchecked = [inbound for inbound in batch if inbound.needs_check]
        if not unchecked:
            return batch
        run_ids = {fences.run_uuid(inbound.message.run_id) for inbound in unchecked}
        rows = await queries.run_fences(self._pool, [r for r in run_ids if r is not None])
        for inbound in unchecked:
            vouched = fences.vouch(inbound.message, rows.get(inbound.message.run_id))
            if vouched is fences.Vouched.YES:
                inbound.verified = True
            else:
                await self._refuse(inbound, vouched.value)
        return [inbound for inbound in batch if not inbound.settled]

    async def _refuse(self, inbound: Inbound, why: str) -> None:
        """Drop a message that speaks for an attempt it does not hold. Logged with what is
        known of its sender; never with the token it carried."""
        message = inbound.message
        log = logger.info if why == "stale" else logger.warning
        log(
            "run %s: refused %s (attempt %d, seq %d, naming thread %s) as %s; sender: %s",
            message.run_id,
            message.type,
            message.attempt,
            message.seq,
            message.thread_id,
            why,
            fences.sender(inbound.msg),
        )
        inbound.settled = True
        await inbound.msg.ack()

    async def _hand_back(self, batch: Sequence[Inbound], delay: float | None = None) -> None:
        for inbound in batch:
            if inbound.settled:
                continue
            inbound.settled = True
            try:
                await inbound.msg.nak(
                    delay=self._early.delay(inbound.delivered) if delay is None else delay
                )
            except Exception as exc:  # ack_wait redelivers it anyway
                logger.debug("nak failed: %s", exc)

    async def _write_events(self, batch: Sequence[Inbound]) -> None:
        by_run: dict[str, list[Inbound]] = {}
        for inbound in batch:
            by_run.setdefault(inbound.message.run_id, []).append(inbound)
        calls = []
        for inbounds in by_run.values():
            writes = []
            for inbound in inbounds:
                assert not isinstance(inbound.message, RunOutcome)
                writes.append(event_write(inbound.message, verified=inbound.verified))
            first = inbounds[0].message
            calls.append(RunWrites(first.thread_id, first.run_id, self._live_ttl, writes))
        results = await self._writer.append(calls)
        for inbounds, verdicts in zip(by_run.values(), results, strict=True):
            for inbound, verdict in zip(inbounds, verdicts, strict=True):
                await self._settle(inbound, verdict)

    async def _finish_outcomes(self, batch: Sequence[Inbound]) -> None:
        results = await asyncio.gather(
            *(self._finish(inbound) for inbound in batch), return_exceptions=True
        )
        transient: Exception | None = None
        for inbound, result in zip(batch, results, strict=True):
            if not isinstance(result, BaseException):
                continue
            if not isinstance(result, Exception):
                raise result
            if is_transient(result):
                transient = transient or result
            else:
                await self._failed(inbound, result)
        if transient is not None:
            raise transient

    async def _finish(self, inbound: Inbound) -> None:
        """Postgres first, then the stream's end in Redis, then the wake-up, then the ack: a
        crash anywhere repeats the whole, and every step is idempotent."""
        outcome = inbound.message
        assert isinstance(outcome, RunOutcome)
        write = outcome_write(outcome, verified=inbound.verified)
        (verdict,) = await self._writer.check(self._calls(outcome, write, self._live_ttl))
        if not verdict.written:
            await self._settle(inbound, verdict)
            return
        settlement = await settle.settle_run(self._pool, outcome)
        if settlement.settled is settle.Settled.SUPERSEDED:
            logger.warning(
                "run %s: dropped the %s outcome of attempt %d, superseded by another attempt",
                outcome.run_id,
                outcome.status,
                outcome.attempt,
            )
            await self._settle(inbound, Verdict.STALE)
            return
        if settlement.settled is settle.Settled.FORGED:
            await self._settle(inbound, Verdict.FORGED)
            return
        ends = outcomes.ends_run(outcome)
        ttl = self._retention if ends else self._live_ttl
        ((verdict,),) = await self._writer.append([self._calls(outcome, write, ttl)])
        if ends and settlement.thread_to_delete is not None:
            await settle.delete_thread(self._pool, settlement.thread_to_delete)
        if settlement.runs_pending:  # else a wake-up claims nothing
            await self._nc.publish(subjects.RUNS_REQUESTED, b"")
        logger.debug("run %s: %s (attempt %d)", outcome.run_id, outcome.status, outcome.attempt)
        await self._settle(inbound, verdict)

    @staticmethod
    def _calls(outcome: RunOutcome, write: Write, ttl: int) -> RunWrites:
        return RunWrites(outcome.thread_id, outcome.run_id, ttl, [write])

    async def _settle(self, inbound: Inbound, verdict: Verdict) -> None:
        message = inbound.message
        if verdict is Verdict.FORGED:
            await self._refuse(inbound, "forged")
            return
        if verdict is Verdict.UNFENCED:
            inbound.unfenced = True  # the next round asks the run's row about it
            verdict = Verdict.EARLY
        if verdict is Verdict.EARLY:
            now = time.monotonic()
            if inbound.held_since is None:
                inbound.held_since = now
            if self._early.keep(now - inbound.held_since):
                self._held.append(inbound)
                return
            await inbound.msg.nak(delay=self._early.delay(inbound.delivered))
        else:
            if verdict is Verdict.FORCED:
                logger.error(
                    "run %s: gave up waiting for the messages before attempt %d seq %d; "
                    "its stream skips them",
                    message.run_id,
                    message.attempt,
                    message.seq,
                )
            elif verdict is Verdict.DUPLICATE:
                logger.debug(
                    "run %s: seq %d of attempt %d was written before",
                    message.run_id,
                    message.seq,
                    message.attempt,
                )
            elif verdict is Verdict.STALE:
                logger.info(
                    "run %s: dropped seq %d of superseded attempt %d",
                    message.run_id,
                    message.seq,
                    message.attempt,
                )
            await inbound.msg.ack()
        inbound.settled = True

    async def _failed(self, inbound: Inbound, exc: Exception) -> None:
        """A message whose processing failed for its own sake: retried a few times, then
        terminated, so that it never blocks the bridge."""
        message = inbound.message
        inbound.settled = True
        if inbound.delivered >= self._max_failed_deliveries:
            logger.error(
                "run %s: terminating seq %d of attempt %d after %d failed deliveries",
                message.run_id,
                message.seq,
                message.attempt,
                inbound.delivered,
                exc_info=exc,
            )
            await inbound.msg.term()
            return
        logger.warning(
            "run %s: seq %d of attempt %d failed (%s: %s); it will be redelivered",
            message.run_id,
            message.seq,
            message.attempt,
            type(exc).__name__,
            exc,
        )
        await inbound.msg.nak(delay=self._early.delay(inbound.delivered))
