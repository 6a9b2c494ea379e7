/** Pure parts of the worker's life: which dispatches it takes, and how it publishes. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { RunDispatch } from "../src/generated/contracts.ts";
import { silentLogger } from "../src/log.ts";
import { EventPublisher, PublishingStopped } from "../src/publisher.ts";
import { RunTable } from "../src/runTable.ts";
import { eventMsgId, runEvents } from "../src/subjects.ts";

function dispatch(runId: string, attempt = 1, graphId = "g"): RunDispatch {
  return { run_id: runId, thread_id: "t", assistant_id: "a", graph_id: graphId, tenant_id: "x", attempt, params: {}, token: `lease-${runId}-${attempt}` };
}

test("a run table takes dispatches up to capacity, once per attempt", () => {
  const table = new RunTable(2);
  table.served = new Set(["g"]);
  assert.deepEqual(table.decide(dispatch("other", 1, "h")), { accepted: false, reason: "graph 'h' is not served", start: false });
  const first = table.hold(dispatch("r1"));
  assert.deepEqual(table.decide(dispatch("r1")), { accepted: true, start: false });
  table.hold(dispatch("r2"));
  assert.equal(table.decide(dispatch("r3")).reason, "worker is at capacity");
  const newer = table.decide(dispatch("r1", 2));
  assert.equal(newer.start, true);
  assert.equal(newer.supersedes, first);
  table.hold(dispatch("r1", 2));
  assert.equal(table.decide(dispatch("r1", 1)).reason, "a newer attempt of this run is held here");
  table.forget(first);
  // Each held run carries its attempt's lease token: only its holder renews its lease.
  assert.deepEqual(table.held(), [
    { run_id: "r1", attempt: 2, token: "lease-r1-2" },
    { run_id: "r2", attempt: 1, token: "lease-r2-1" },
  ]);
  table.draining = true;
  assert.equal(table.decide(dispatch("r4")).reason, "worker is draining");
  assert.deepEqual(table.decide(dispatch("r2")), { accepted: true, start: false });
});

test("a run publishing its outcome frees its slot but stays held", () => {
  const table = new RunTable(1);
  table.served = new Set(["g"]);
  const reporting = table.hold(dispatch("r1"));
  assert.equal(table.decide(dispatch("r2")).reason, "worker is at capacity");
  reporting.reporting = true;
  assert.equal(table.decide(dispatch("r2")).start, true);
  table.hold(dispatch("r2"));
  // Until its outcome is stored, its lease is renewed with the new run's.
  assert.deepEqual(table.held().map((run) => run.run_id), ["r1", "r2"]);
  assert.equal(table.decide(dispatch("r3")).reason, "worker is at capacity");
});

test("cancels and revocations reach the held attempt only", () => {
  const table = new RunTable(2);
  const handle = table.hold(dispatch("r1", 2));
  assert.equal(table.revoke({ run_id: "r1", attempt: 1 }), false);
  assert.equal(table.cancel("r1", "rollback"), true);
  assert.equal(handle.stopReason, "rollback");
  assert.ok(handle.controller.signal.aborted);
  table.cancel("r1", "interrupt");
  assert.equal(handle.stopReason, "rollback", "the first reason wins");
  assert.equal(table.revoke({ run_id: "r1", attempt: 2 }), true);
  assert.equal(handle.stopReason, "revoked", "a revocation silences the run");
  assert.equal(table.cancel("nope", "interrupt"), false);
});

interface Published {
  subject: string;
  msgID: string;
  body: Record<string, unknown>;
}

function fakeJetStream(failures: number[] = []): { js: JetStreamClient; published: Published[] } {
  const published: Published[] = [];
  let calls = 0;
  const js = {
    publish: async (subject: string, payload: Uint8Array, options: { msgID: string }) => {
      calls += 1;
      if (failures.includes(calls)) throw new Error("no responders");
      published.push({ subject, msgID: options.msgID, body: JSON.parse(new TextDecoder().decode(payload)) });
      return { seq: calls };
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

test("events are numbered from 1, deduplicated by id, retried, and end with the outcome", async () => {
  const { js, published } = fakeJetStream([2]);
  const publisher = new EventPublisher(js, { runId: "r", threadId: "t", attempt: 3, token: "lease-secret" }, { logger: silentLogger, window: 2 });
  await publisher.event("values", { a: 1 });
  await publisher.event("updates", { n: { a: 2 } });
  await publisher.event("custom", "x");
  await publisher.outcome({ status: "success", values: { a: 2 }, next: [], interrupts: {}, checkpointId: "c" });
  const order = published.map((p) => p.body.seq);
  assert.deepEqual([...order].sort(), [1, 2, 3, 4]);
  assert.equal(published.at(-1)!.body.type, "agentlist.run.outcome.v1");
  assert.ok(published.every((p) => p.subject === runEvents("r") && p.msgID === eventMsgId("r", 3, p.body.seq as number, "lease-secret")));
  assert.ok(published.every((p) => !(p.msgID as string).includes("lease-secret")));
  const outcome = published.at(-1)!.body;
  assert.deepEqual(outcome, {
    type: "agentlist.run.outcome.v1",
    run_id: "r",
    thread_id: "t",
    attempt: 3,
    seq: 4,
    token: "lease-secret",
    status: "success",
    values: { a: 2 },
    next: [],
    interrupts: {},
    error: null,
    checkpoint_id: "c",
  });
  const event = published.find((p) => p.body.seq === 1)!.body;
  assert.deepEqual(event, { type: "agentlist.run.event.v1", run_id: "r", thread_id: "t", attempt: 3, seq: 1, token: "lease-secret", event: "values", data: { a: 1 } });
});

test("a message too large for NATS carries an error instead of its values", async () => {
  const { js, published } = fakeJetStream();
  const publisher = new EventPublisher(js, { runId: "r", threadId: "t", attempt: 1, token: "lease-secret" }, { logger: silentLogger, maxPayload: 300 });
  await publisher.event("values", { big: "x".repeat(1000) });
  await publisher.flush();
  const data = published[0]!.body.data as { error: string; message: string };
  assert.equal(data.error, "PayloadTooLarge");
  assert.match(data.message, /max_payload/);
});

test("a stopped publisher gives up instead of retrying for ever", async () => {
  const { js } = fakeJetStream([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  let stopped = false;
  const publisher = new EventPublisher(js, { runId: "r", threadId: "t", attempt: 1, token: "lease-secret" }, { logger: silentLogger, stopped: () => stopped });
  setTimeout(() => (stopped = true), 100);
  await assert.rejects(publisher.outcome({ status: "success" }), PublishingStopped);
});
