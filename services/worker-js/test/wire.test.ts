/** Messages the worker receives are checked against the contracts' schema: a malformed one is
 * refused or dropped with one log line, and the worker goes on serving. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { MESSAGE_TYPE, type RunDispatch } from "../src/generated/contracts.ts";
import * as validators from "../src/generated/validators.js";
import type { GraphSource } from "../src/loader.ts";
import type { Logger } from "../src/log.ts";
import type { OpenPersistence } from "../src/persistence.ts";
import { decodeStateRequest } from "../src/stateOps.ts";
import * as subjects from "../src/subjects.ts";
import { decodeMessage, MalformedMessage } from "../src/wire.ts";
import { Worker } from "../src/worker.ts";

const SUBJECT = subjects.workerDispatch(subjects.DEFAULT_TEAM, "w");

function bytes(payload: unknown): Uint8Array {
  return new TextEncoder().encode(typeof payload === "string" ? payload : JSON.stringify(payload));
}

function dispatch(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: MESSAGE_TYPE.RunDispatch,
    run_id: "r1",
    thread_id: "t",
    assistant_id: "a",
    graph_id: "g",
    tenant_id: "x",
    attempt: 1,
    params: {},
    ...overrides,
  };
}

function malformed(kind: Parameters<typeof decodeMessage>[0], payload: unknown): MalformedMessage {
  try {
    decodeMessage(kind, SUBJECT, bytes(payload));
  } catch (error) {
    assert.ok(error instanceof MalformedMessage, String(error));
    return error;
  }
  assert.fail(`${JSON.stringify(payload)} passed as a ${kind}`);
}

test("a well-formed message passes, with fields it does not know", () => {
  const decoded: RunDispatch = decodeMessage("RunDispatch", SUBJECT, bytes(dispatch({ added_later: 1 })));
  assert.equal(decoded.run_id, "r1");
  assert.deepEqual(decodeMessage("RunCancel", SUBJECT, bytes({ run_id: "r1", action: "rollback" })), { run_id: "r1", action: "rollback" });
  const reply = decodeMessage("HeartbeatReply", SUBJECT, bytes({ known: true, cancels: [{ run_id: "r1" }], revoked: [{ run_id: "r2", attempt: 2 }] }));
  assert.equal(reply.cancels?.[0]?.run_id, "r1");
});

test("a malformed message is refused with its subject and what is wrong, on one line", () => {
  const cases: [Parameters<typeof decodeMessage>[0], unknown, RegExp][] = [
    ["RunDispatch", "{not json", /not JSON/],
    ["RunDispatch", "[1, 2]", /the message must be object/],
    ["RunDispatch", dispatch({ params: undefined }), /must have required property 'params'/],
    ["RunDispatch", dispatch({ attempt: 0 }), /\/attempt must be >= 1/],
    ["RunDispatch", dispatch({ attempt: "1" }), /\/attempt must be integer/],
    ["RunDispatch", dispatch({ type: MESSAGE_TYPE.RunCancel }), /\/type must be equal to constant "agentlist.run.dispatch.v1"/],
    ["RunDispatch", dispatch({ params: { durability: "never" } }), /\/params\/durability must be equal to one of the allowed values \["sync","async","exit"\]/],
    ["RunCancel", { run_id: "r1", action: "explode" }, /\/action must be equal to one of the allowed values/],
    ["WorkerControl", { action: "reboot" }, /\/action must be equal to one of the allowed values/],
    ["RegisterReply", { accepted: true, heartbeat_interval: 0 }, /\/heartbeat_interval must be > 0/],
    ["HeartbeatReply", { known: true, cancels: [{ run_id: 5 }] }, /\/cancels\/0\/run_id must be string/],
  ];
  for (const [kind, payload, reason] of cases) {
    const error = malformed(kind, payload);
    assert.match(error.message, new RegExp(`^${SUBJECT.replaceAll(".", "\\.")}: malformed ${kind}: `));
    assert.match(error.message, reason);
    assert.doesNotMatch(error.message, /\n/);
  }
  assert.match(String(decodeMessageError(new Uint8Array([0xff, 0xfe]))), /not JSON/);
});

function decodeMessageError(data: Uint8Array): unknown {
  try {
    return decodeMessage("WorkerControl", SUBJECT, data);
  } catch (error) {
    return error;
  }
}

test("a state request is told apart by its type, then checked as that request", () => {
  const subject = subjects.graphState("g");
  assert.equal(decodeStateRequest(subject, bytes({ type: MESSAGE_TYPE.GetHistory, thread_id: "t", limit: 3 })).type, MESSAGE_TYPE.GetHistory);
  assert.throws(() => decodeStateRequest(subject, bytes({ thread_id: "t" })), /malformed state request: type missing is none of/);
  assert.throws(() => decodeStateRequest(subject, bytes({ type: "constructor", thread_id: "t" })), /type "constructor" is none of/);
  assert.throws(() => decodeStateRequest(subject, bytes({ type: MESSAGE_TYPE.GetState, thread_id: 7 })), /malformed GetState: \/thread_id must be string/);
  assert.throws(() => decodeStateRequest(subject, bytes(null)), MalformedMessage);
});

// -- the real worker, on a NATS connection faked in memory ------------------------------------

class FakeSubscription implements AsyncIterable<Msg> {
  private readonly queue: Msg[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  push(msg: Msg): void {
    this.queue.push(msg);
    this.wake?.();
  }

  unsubscribe(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Msg> {
    while (!this.closed) {
      const msg = this.queue.shift();
      if (msg !== undefined) yield msg;
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

/** Subscriptions by subject, and canned answers (in turn, the last repeating) to requests. */
class FakeNats {
  readonly info = { max_payload: 1024 * 1024 };
  private readonly subscriptions = new Map<string, FakeSubscription>();
  private readonly answers = new Map<string, unknown[]>();

  answer(subject: string, ...payloads: unknown[]): void {
    this.answers.set(subject, payloads);
  }

  subscribe(subject: string): Subscription {
    const sub = new FakeSubscription();
    this.subscriptions.set(subject, sub);
    return sub as unknown as Subscription;
  }

  async request(subject: string): Promise<Msg> {
    const answers = this.answers.get(subject);
    if (!answers?.length) throw new Error("no responders");
    const payload = answers.length > 1 ? answers.shift() : answers[0];
    return message(subject, payload, () => {});
  }

  /** Sends `payload` to the worker; the worker's reply, or undefined if none came. */
  async send(subject: string, payload: unknown, waitMs = 100): Promise<unknown> {
    const sub = this.subscriptions.get(subject);
    assert.ok(sub, `the worker does not listen on ${subject}`);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      sub.push(
        message(subject, payload, (data) => {
          clearTimeout(timer);
          resolve(JSON.parse(new TextDecoder().decode(data)));
        }),
      );
    });
  }
}

function message(subject: string, payload: unknown, respond: (data: Uint8Array) => void): Msg {
  const data = bytes(payload);
  return { subject, sid: 1, data, respond: (reply: Uint8Array) => (respond(reply), true) } as unknown as Msg;
}

function recordingLogger(): Logger & { infos: string[]; warnings: string[]; errors: string[] } {
  const infos: string[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  const logger = {
    infos,
    warnings,
    errors,
    debug: () => {},
    info: (line: string) => void infos.push(line),
    warn: (line: string) => void warnings.push(line),
    error: (line: string, ...args: unknown[]) => void errors.push([line, ...args.map(String)].join(" ")),
    child: () => logger,
  };
  return logger;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 3_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test("the worker refuses or drops malformed messages and keeps serving", async () => {
  const nats = new FakeNats();
  const registered = { type: MESSAGE_TYPE.RegisterReply, accepted: true, heartbeat_interval: 0.05 };
  nats.answer(subjects.registryRegister(subjects.DEFAULT_TEAM), "<html>", { accepted: "yes", heartbeat_interval: 1 }, registered);
  nats.answer(subjects.registryHeartbeat(subjects.DEFAULT_TEAM), { known: true, revoked: [{ run_id: "r1" }] }, { known: true });
  const logger = recordingLogger();
  // A run that gets no further than reading its thread until the test ends: it stays held, so
  // it can be cancelled.
  let endRuns!: (error: Error) => void;
  const untilTheEnd = new Promise<never>((_, reject) => (endRuns = reject));
  untilTheEnd.catch(() => {});
  const persistence = { pool: { query: () => untilTheEnd } } as unknown as OpenPersistence;
  const failingSource = { build: async () => Promise.reject(new Error("not buildable here")) } as unknown as GraphSource;
  const worker = new Worker(
    { workerId: "w", team: subjects.DEFAULT_TEAM, capacity: 2, drainGraceSeconds: 0, runTimeoutSeconds: 60 },
    {
      nc: nats as unknown as NatsConnection,
      js: {} as JetStreamClient,
      sources: new Map([["g", failingSource]]),
      graphs: [],
      persistence,
      logger,
    },
  );
  try {
    assert.equal(await worker.start(), true, "registered despite two malformed replies");
    const registerWarnings = logger.warnings.filter((line) => line.startsWith(`${subjects.registryRegister(subjects.DEFAULT_TEAM)} (reply): malformed RegisterReply: `));
    assert.equal(registerWarnings.length, 2, logger.warnings.join("\n"));
    await until(() => logger.warnings.some((line) => line.includes("malformed HeartbeatReply: /revoked/0 must have required property 'attempt'")), "the malformed heartbeat reply");

    const dispatchSubject = subjects.workerDispatch(subjects.DEFAULT_TEAM, "w");
    const unreadable = { type: MESSAGE_TYPE.DispatchReply, accepted: false, reason: "unreadable dispatch" };
    for (const bad of ["{", dispatch({ params: null }), dispatch({ run_id: "r.*" })]) {
      const reply = await nats.send(dispatchSubject, bad);
      assert.deepEqual(reply, unreadable);
      assert.ok(validators.DispatchReply(reply));
    }
    assert.equal(logger.warnings.at(-1), `${dispatchSubject}: malformed RunDispatch: /run_id "r.*" cannot be a subject token`);
    assert.deepEqual(await nats.send(dispatchSubject, dispatch()), { type: MESSAGE_TYPE.DispatchReply, accepted: true, reason: null });

    const cancelSubject = subjects.runCancel("r1");
    assert.equal(await nats.send(cancelSubject, { run_id: "r1", action: "explode" }), undefined);
    assert.ok(logger.warnings.at(-1)!.startsWith(`${cancelSubject}: malformed RunCancel: /action must be equal to one of the allowed values`));
    await nats.send(cancelSubject, { type: MESSAGE_TYPE.RunCancel, run_id: "r1", action: "rollback" });
    assert.ok(logger.infos.includes("run r1: cancel (rollback) requested"));

    const stateSubject = subjects.graphState("g");
    const refused = (await nats.send(stateSubject, { type: MESSAGE_TYPE.GetState, thread_id: ["t"] })) as Record<string, unknown>;
    assert.ok(validators.StateReply(refused));
    assert.equal(refused.status_code, 422);
    assert.match(String((refused.error as { message: string }).message), /malformed GetState: \/thread_id must be string/);
    const answered = (await nats.send(stateSubject, { type: MESSAGE_TYPE.GetState, thread_id: "t" })) as Record<string, unknown>;
    assert.equal(answered.status_code, 500, "a well-formed request reaches the graph (which fails here)");

    const controlSubject = subjects.workerControl(subjects.DEFAULT_TEAM, "w");
    assert.equal(await nats.send(controlSubject, { type: MESSAGE_TYPE.WorkerControl, action: "reboot" }), undefined);
    assert.ok(logger.warnings.at(-1)!.startsWith(`${controlSubject}: malformed WorkerControl: /action must be equal to one of the allowed values`));
    const pong = await nats.send(controlSubject, { type: MESSAGE_TYPE.WorkerControl, action: "ping" });
    assert.deepEqual(pong, { type: MESSAGE_TYPE.WorkerControlReply, worker_id: "w", inflight: 1, draining: false });
    assert.equal(worker.draining, false);
    assert.deepEqual(logger.errors, []);
  } finally {
    await worker.close();
    endRuns(new Error("the test is over"));
  }
});
