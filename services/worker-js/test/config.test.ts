import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { applyEnvironment, ConfigError, parseConfig, parseDotenv, readConfig } from "../src/config.ts";
import { isCompiled, loadGraph, loadGraphs } from "../src/loader.ts";
import { readSettings, newWorkerId } from "../src/settings.ts";

const EXAMPLES = path.resolve(import.meta.dirname, "../examples/langgraph.json");
const FIXTURES = path.resolve(import.meta.dirname, "fixtures");

test("reads the examples' langgraph.json", () => {
  const config = readConfig(EXAMPLES);
  assert.deepEqual(config.graphs.map((g) => g.graphId), ["js_echo", "js_interrupt", "js_slow"]);
  assert.equal(config.graphs[0]!.file, path.resolve(path.dirname(EXAMPLES), "src/echo.ts"));
  assert.equal(config.graphs[0]!.exportName, "graph");
  assert.equal(config.graphs[2]!.description, "Counts slowly, one step at a time");
  assert.equal(config.env.ECHO_PREFIX, "You said: ");
});

test("graph ids must be subject tokens", () => {
  assert.throws(() => parseConfig({ graphs: { "my.graph": "./a.ts:graph" } }, "/x/langgraph.json"), ConfigError);
  assert.throws(() => parseConfig({ graphs: { ok: "./a.ts" } }, "/x/langgraph.json"), /<file>:<export>/);
  assert.throws(() => parseConfig({ graph: {} }, "/x/langgraph.json"), /'graphs'/);
});

test("env may be a .env file; the operator's environment wins", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "agentlist-env-"));
  await writeFile(path.join(dir, ".env"), "# c\nexport A=1\nB='two words'\nC=3 # note\n");
  await writeFile(path.join(dir, "langgraph.json"), JSON.stringify({ graphs: {}, env: ".env" }));
  const config = readConfig(path.join(dir, "langgraph.json"));
  assert.deepEqual(config.env, { A: "1", B: "two words", C: "3" });
  const env: NodeJS.ProcessEnv = { A: "mine" };
  applyEnvironment(config, env);
  assert.deepEqual(env, { A: "mine", B: "two words", C: "3" });
  assert.deepEqual(parseDotenv('X="y"'), { X: "y" });
});

test("loads compiled graphs, builders and factories from TypeScript files", async () => {
  const sources = await loadGraphs(readConfig(EXAMPLES));
  assert.deepEqual([...sources.keys()], ["js_echo", "js_interrupt", "js_slow"]);
  const echo = await sources.get("js_echo")!.build({});
  assert.ok(isCompiled(echo));
  assert.equal(echo.name, "Echo agent (JS)");
  assert.equal((await sources.get("js_slow")!.build({})).name, "js_slow");
  const file = path.join(FIXTURES, "kinds.ts");
  for (const exportName of ["builder", "factory", "asyncFactory", "nested.graph"]) {
    const source = await loadGraph({ graphId: "g", file, exportName, description: null });
    assert.ok(isCompiled(await source.build({ configurable: { tag: exportName } })), exportName);
  }
  await assert.rejects(loadGraph({ graphId: "g", file, exportName: "missing", description: null }), /no export/);
  await assert.rejects(loadGraph({ graphId: "g", file, exportName: "notAGraph", description: null }), /not a graph/);
  await assert.rejects(loadGraph({ graphId: "g", file: path.join(FIXTURES, "nope.ts"), exportName: "g", description: null }), /does not exist/);
});

test("settings come from the environment and flags", () => {
  const settings = readSettings(["--config", "x.json"], {
    NATS_URL: "nats://n:1",
    DATABASE_URL: "postgresql://d",
    AGENTLIST_WORKER_CAPACITY: "3",
    AGENTLIST_WORKER_ID: "w-1",
    AGENTLIST_WORKER_DRAIN_GRACE_SECONDS: "0.5",
    AGENTLIST_LOG_LEVEL: "WARNING",
  });
  assert.deepEqual(settings, {
    natsUrl: "nats://n:1",
    databaseUrl: "postgresql://d",
    config: "x.json",
    capacity: 3,
    workerId: "w-1",
    drainGraceSeconds: 0.5,
    runTimeoutSeconds: 3600,
    logLevel: "warn",
    healthPort: undefined,
    healthHost: "127.0.0.1",
  });
  assert.throws(() => readSettings([], { AGENTLIST_WORKER_ID: "a.b" }), /worker id/);
  assert.throws(() => readSettings([], { AGENTLIST_WORKER_CAPACITY: "0" }), /AGENTLIST_WORKER_CAPACITY/);
  assert.match(newWorkerId("my.host"), /^js-my-host-[0-9a-f]{8}$/);
});
