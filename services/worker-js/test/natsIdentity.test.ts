import assert from "node:assert/strict";
import { test } from "node:test";
import { natsIdentity } from "../src/cli.ts";

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
