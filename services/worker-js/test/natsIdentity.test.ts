import assert from "node:assert/strict";
import { test } from "node:test";
import { belowFloor, natsIdentity } from "../src/cli.ts";

test("a NATS URL's user connects with its password and reads replies in its own inbox", () => {
  assert.deepEqual(natsIdentity("nats://worker:p%40ss-_x@127.0.0.1:4222"), {
    servers: "nats://127.0.0.1:4222",
    user: "worker",
    pass: "p@ss-_x",
    inboxPrefix: "_INBOX_worker",
  });
});

test("a URL without a user keeps the default inbox", () => {
  assert.deepEqual(natsIdentity("nats://127.0.0.1:4222"), {
    servers: "nats://127.0.0.1:4222",
    inboxPrefix: "_INBOX",
  });
});

test("a NATS server older than the mesh's floor is refused", () => {
  assert.equal(belowFloor("2.9.25"), true);
  assert.equal(belowFloor("2.10.0"), false);
  assert.equal(belowFloor("2.15.1"), false);
  assert.equal(belowFloor("3.0.0-beta.1"), false);
});
