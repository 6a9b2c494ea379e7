/**
 * Publishing one attempt's events and outcome to JetStream: numbered, in order, deduplicated.
 *
 * Events are pipelined (up to `window` unacknowledged); a publish that fails or is not
 * acknowledged in time is sent again with the same `Nats-Msg-Id`, so JetStream keeps one copy.
 * The outcome is published only after every event is stored.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { MESSAGE_TYPE, type ErrorInfo, type RunEvent, type RunOutcome } from "./generated/contracts.js";
import type { Logger } from "./log.js";
import { toJsonable } from "./serde.js";
import { eventMsgId, runEvents } from "./subjects.js";
import type { Interrupts } from "./threadState.js";

const RETRY_DELAYS_MS = [50, 100, 250, 500, 1000, 2000];

export interface RunRef {
  runId: string;
  threadId: string;
  attempt: number;
  /** The attempt's lease token from its dispatch: a secret, carried by every message, never logged. */
  token: string | null;
}

export interface OutcomeFields {
  status: RunOutcome["status"];
  values?: unknown;
  next?: readonly string[];
  interrupts?: Interrupts;
  error?: ErrorInfo | null;
  checkpointId?: string | null;
}

export class PublishingStopped extends Error {
  override name = "PublishingStopped";
}

interface Pending {
  seq: number;
  payload: Uint8Array;
  stored: Promise<unknown>;
}

export interface PublisherOptions {
  window?: number;
  ackTimeoutMs?: number;
  /** The server's `max_payload`; larger messages are replaced by an error. */
  maxPayload?: number;
  /** True once the attempt must publish nothing more (revoked, or the worker is closing). */
  stopped?: () => boolean;
  logger: Logger;
}

export class EventPublisher {
  private seq = 0;
  private readonly subject: string;
  private readonly inFlight: Pending[] = [];
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private readonly maxPayload: number;
  private readonly stopped: () => boolean;
  private readonly logger: Logger;

  constructor(private readonly js: JetStreamClient, private readonly run: RunRef, options: PublisherOptions) {
    this.subject = runEvents(run.runId);
    this.window = options.window ?? 64;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.maxPayload = options.maxPayload ?? 1024 * 1024;
    this.stopped = options.stopped ?? (() => false);
    this.logger = options.logger;
  }

  /** Messages numbered so far (the last `seq`). */
  get published(): number {
    return this.seq;
  }

  async event(name: string, data: unknown): Promise<void> {
    this.seq += 1;
    const envelope: RunEvent = {
      type: MESSAGE_TYPE.RunEvent,
      run_id: this.run.runId,
      thread_id: this.run.threadId,
      attempt: this.run.attempt,
      seq: this.seq,
      token: this.run.token,
      event: name,
      data: toJsonable(data),
    };
    const payload = this.encode(envelope, ["data"]);
    this.inFlight.push({ seq: this.seq, payload, stored: this.sendOnce(this.seq, payload) });
    while (this.inFlight.length >= this.window) await this.settle(this.inFlight.shift()!);
  }

  /** Wait until every event published so far is stored. */
  async flush(): Promise<void> {
    while (this.inFlight.length) await this.settle(this.inFlight.shift()!);
  }

  /** The attempt's last message, after all its events. */
  async outcome(fields: OutcomeFields): Promise<void> {
    await this.flush();
    this.seq += 1;
    const envelope: RunOutcome = {
      type: MESSAGE_TYPE.RunOutcome,
      run_id: this.run.runId,
      thread_id: this.run.threadId,
      attempt: this.run.attempt,
      seq: this.seq,
      token: this.run.token,
      status: fields.status,
      values: toJsonable(fields.values ?? null),
      next: [...(fields.next ?? [])],
      interrupts: (toJsonable(fields.interrupts ?? {}) ?? {}) as RunOutcome["interrupts"],
      error: fields.error ?? null,
      checkpoint_id: fields.checkpointId ?? null,
    };
    await this.sendUntilStored(this.seq, this.encode(envelope, ["values", "interrupts"]));
  }

  /** The message as JSON; one too large for NATS has its graph values replaced by an error. */
  private encode(envelope: RunEvent | RunOutcome, graphFields: string[]): Uint8Array {
    const payload = new TextEncoder().encode(JSON.stringify(envelope));
    if (payload.byteLength <= this.maxPayload) return payload;
    this.logger.error(`${this.run.runId} #${envelope.seq} is too large to publish (${payload.byteLength} bytes)`);
    const error = { error: "PayloadTooLarge", message: `${payload.byteLength} bytes exceed the NATS server's max_payload` };
    const shrunk: Record<string, unknown> = { ...envelope };
    for (const key of graphFields) shrunk[key] = error;
    return new TextEncoder().encode(JSON.stringify(shrunk));
  }

  /** One publish; resolves to the error instead of rejecting, so nothing is left unhandled. */
  private sendOnce(seq: number, payload: Uint8Array): Promise<unknown> {
    return this.js
      .publish(this.subject, payload, { msgID: this.msgId(seq), timeout: this.ackTimeoutMs })
      .then(() => null, (error: unknown) => error ?? new Error("publish failed"));
  }

  private async settle(pending: Pending): Promise<void> {
    const error = await pending.stored;
    if (error === null) return;
    this.logger.info(`${this.run.runId} #${pending.seq} not stored (${String(error)}); resending`);
    await this.sendUntilStored(pending.seq, pending.payload);
  }

  /** Retry for as long as the attempt lives: the events stream may not exist yet, NATS may be
   * restarting. */
  private async sendUntilStored(seq: number, payload: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      if (this.stopped()) throw new PublishingStopped(`${this.run.runId}: publishing stopped`);
      const error = await this.sendOnce(seq, payload);
      if (error === null) return;
      if (attempt === 0 || attempt === 9 || attempt % 50 === 49) {
        this.logger.warn(`publishing ${this.run.runId} #${seq} failed (${String(error)}); retrying`);
      }
      await sleep(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!);
    }
  }

  private msgId(seq: number): string {
    return eventMsgId(this.run.runId, this.run.attempt, seq, this.run.token);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
