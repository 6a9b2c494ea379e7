import assert from "node:assert/strict";
import { test } from "node:test";
import { boundPort, serveHealth } from "../src/health.ts";
import { readSettings } from "../src/settings.ts";

test("the probes say alive always and ready only when the worker is", async () => {
  let ready = false;
  const server = await serveHealth("127.0.0.1", 0, () => ready);
  const url = `http://127.0.0.1:${boundPort(server)}`;
  try {
    assert.equal((await fetch(`${url}/livez`)).status, 200);
    assert.equal((await fetch(`${url}/readyz`)).status, 503);
    ready = true;
    const answer = await fetch(`${url}/readyz`);
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "ok\n");
    assert.equal((await fetch(`${url}/metrics`)).status, 404);
    assert.equal((await fetch(`${url}/livez`, { method: "POST" })).status, 405);
  } finally {
    server.close();
  }
});

test("the probe port is read from the environment, and a bad one refused", () => {
  assert.equal(readSettings([], {}).healthPort, undefined);
  const settings = readSettings([], { AGENTLIST_WORKER_HEALTH_PORT: "8081", AGENTLIST_WORKER_HEALTH_HOST: "0.0.0.0" });
  assert.equal(settings.healthPort, 8081);
  assert.equal(settings.healthHost, "0.0.0.0");
  assert.throws(() => readSettings([], { AGENTLIST_WORKER_HEALTH_PORT: "70000" }), /port number/);
  assert.throws(() => readSettings([], { AGENTLIST_WORKER_HEALTH_PORT: "web" }), /number/);
});
