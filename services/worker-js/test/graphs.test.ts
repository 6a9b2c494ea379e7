/** The runtime's graph-facing pieces against real LangGraph.js graphs and an in-memory saver. */
import assert from "node:assert/strict";
import path from "node:path";
import { test } from "node:test";
import { MemorySaver } from "@langchain/langgraph";
import { readConfig } from "../src/config.ts";
import { describeGraph, pythonDrawable } from "../src/describe.ts";
import type { RunDispatch } from "../src/generated/contracts.ts";
import { loadGraph, loadGraphs, type GraphSource, type Persistence } from "../src/loader.ts";
import { silentLogger } from "../src/log.ts";
import { checkpointMetadata } from "../src/persistence.ts";
import { toJsonable } from "../src/serde.ts";
import { answerStateRequest } from "../src/stateOps.ts";
import { graphEvents, runConfig, runInput, toCommand, withoutFork } from "../src/stream.ts";
import { namespacePattern } from "../src/store.ts";
import { EMPTY_THREAD_STATE, interruptsByTask, isSnapshot, pythonTimestamp, threadState } from "../src/threadState.ts";

const EXAMPLES = path.resolve(import.meta.dirname, "../examples/langgraph.json");
const NESTED = path.resolve(import.meta.dirname, "fixtures/nested.ts");
const sources = await loadGraphs(readConfig(EXAMPLES));

/** MemorySaver plus the run metadata the mesh's Postgres saver records. */
class MeshMemorySaver extends MemorySaver {
  override put(...[config, checkpoint, metadata]: Parameters<MemorySaver["put"]>) {
    return super.put(config, checkpoint, checkpointMetadata(config, metadata));
  }
}

function persistence(): Persistence {
  return { checkpointer: new MeshMemorySaver() };
}

function dispatchOf(graphId: string, params: RunDispatch["params"], threadId = crypto.randomUUID()): RunDispatch {
  return { run_id: crypto.randomUUID(), thread_id: threadId, assistant_id: "a", graph_id: graphId, tenant_id: "t", attempt: 1, params };
}

async function run(source: GraphSource, dispatch: RunDispatch, saver: Persistence) {
  const config = runConfig(dispatch);
  const graph = await source.build(config, saver);
  const events: [string, unknown][] = [];
  for await (const [name, data] of graphEvents(graph, runInput(dispatch.params), config, dispatch.params)) events.push([name, toJsonable(data)]);
  return events;
}

test("runConfig carries the ids, the run's metadata and a fork checkpoint", () => {
  const dispatch = dispatchOf("g", { config: { recursion_limit: 5, configurable: { user: "u" }, metadata: { m: 1 } }, checkpoint: { checkpoint_id: "c", checkpoint_ns: "" } });
  const config = runConfig(dispatch);
  assert.equal(config.recursionLimit, 5);
  assert.equal(config.runId, dispatch.run_id);
  assert.deepEqual(config.configurable, { user: "u", thread_id: dispatch.thread_id, run_id: dispatch.run_id, graph_id: "g", assistant_id: "a", checkpoint_id: "c", checkpoint_ns: "" });
  assert.deepEqual(config.metadata, { m: 1, run_id: dispatch.run_id, thread_id: dispatch.thread_id, graph_id: "g", assistant_id: "a", run_attempt: 1 });
  assert.equal(withoutFork(config).configurable?.checkpoint_id, undefined);
  assert.deepEqual(toJsonable(toCommand({ resume: "r", goto: { node: "n", input: 1 } })), { update: null, resume: "r", goto: [{ node: "n", arg: 1 }], graph: null });
  assert.equal(runInput({ input: { a: 1 }, command: null }) !== null, true);
});

test("an echo run streams values, updates and token chunks", async () => {
  const saver = persistence();
  const events = await run(sources.get("js_echo")!, dispatchOf("js_echo", { input: { messages: [{ role: "user", content: "hi there" }] }, stream_mode: ["values", "updates", "messages-tuple"] }), saver);
  const names = events.map(([name]) => name);
  assert.deepEqual([...new Set(names)].sort(), ["messages", "updates", "values"]);
  const tokens = events.filter(([name]) => name === "messages").map(([, data]) => (data as [{ content: string; type: string }, unknown])[0]);
  assert.deepEqual(tokens.map((t) => t.content), ["You ", "said: ", "hi ", "there"]);
  assert.ok(tokens.every((t) => t.type === "AIMessageChunk"));
  const last = events.filter(([name]) => name === "values").at(-1)![1] as { messages: { type: string; content: string }[] };
  assert.deepEqual(last.messages.map((m) => [m.type, m.content]), [["human", "hi there"], ["ai", "You said: hi there"]]);
});

test("events mode sends callback events and the requested modes", async () => {
  const events = await run(sources.get("js_echo")!, dispatchOf("js_echo", { input: { messages: [{ role: "user", content: "x" }] }, stream_mode: ["events", "values"] }), persistence());
  const kinds = new Set(events.filter(([name]) => name === "events").map(([, data]) => (data as { event: string }).event));
  for (const kind of ["on_chain_start", "on_chain_end", "on_chat_model_stream"]) assert.ok(kinds.has(kind), kind);
  assert.ok(events.some(([name]) => name === "values"));
  assert.ok(events.every(([name, data]) => name !== "events" || Array.isArray((data as { parent_ids: unknown }).parent_ids)));
});

test("subgraph events are named <mode>|<ns>", async () => {
  const source = await loadGraph({ graphId: "nested", file: NESTED, exportName: "parent", description: null });
  const events = await run(source, dispatchOf("nested", { input: { value: "v" }, stream_mode: ["updates"], subgraphs: true }), persistence());
  const names = events.map(([name]) => name);
  assert.ok(names.some((name) => /^updates\|child:[0-9a-f-]+$/.test(name)), names.join(","));
  assert.ok(names.includes("updates"));
});

test("an interrupt leaves next and interrupts on the state; a command resumes it", async () => {
  const saver = persistence();
  const source = sources.get("js_interrupt")!;
  const threadId = crypto.randomUUID();
  const events = await run(source, dispatchOf("js_interrupt", { input: { topic: "deploy" }, stream_mode: ["values"] }, threadId), saver);
  // As Python streams it: the state at the interrupt, plus the interrupts.
  const interruptId = (events.at(-1)![1] as { __interrupt__: { id: string }[] }).__interrupt__[0]!.id;
  assert.deepEqual(events.at(-1), ["values", { topic: "deploy", __interrupt__: [{ id: interruptId, value: { question: "Approve deploy?" } }] }]);
  const graph = await source.build({}, saver);
  const snapshot = await graph.getState({ configurable: { thread_id: threadId } });
  assert.ok(isSnapshot(snapshot));
  const state = threadState(snapshot) as Record<string, unknown>;
  assert.deepEqual(Object.keys(state).sort(), Object.keys(EMPTY_THREAD_STATE).sort());
  assert.deepEqual(state.next, ["ask"]);
  assert.deepEqual((state.interrupts as { value: unknown }[]).map((i) => i.value), [{ question: "Approve deploy?" }]);
  const byTask = interruptsByTask(snapshot);
  assert.deepEqual(Object.values(byTask).map((list) => list.map((i) => i.value)), [[{ question: "Approve deploy?" }]]);
  const tasks = state.tasks as Record<string, unknown>[];
  assert.deepEqual(Object.keys(tasks[0]!).sort(), ["checkpoint", "error", "id", "interrupts", "name", "path", "result", "state"]);
  assert.equal((state.metadata as Record<string, unknown>).graph_id, "js_interrupt");
  assert.ok((state.metadata as Record<string, unknown>).run_id);
  await run(source, dispatchOf("js_interrupt", { command: { resume: "yes" }, stream_mode: ["values"] }, threadId), saver);
  const resumed = threadState((await graph.getState({ configurable: { thread_id: threadId } })) as never) as Record<string, unknown>;
  assert.deepEqual(resumed.values, { topic: "deploy", answer: "yes" });
  assert.deepEqual(resumed.next, []);
});

test("state requests: get, history, update, bulk update, and client errors", async () => {
  const saver = persistence();
  const source = sources.get("js_slow")!;
  const threadId = crypto.randomUUID();
  const empty = await answerStateRequest({ type: "agentlist.state.get.v1", thread_id: threadId }, source, saver);
  assert.deepEqual(empty, { type: "agentlist.state.reply.v1", ok: true, thread_id: threadId, result: EMPTY_THREAD_STATE, status_code: 200 });
  await run(source, dispatchOf("js_slow", { input: { steps: 2, delay_ms: 1 } }, threadId), saver);
  const got = await answerStateRequest({ type: "agentlist.state.get.v1", thread_id: threadId }, source, saver);
  assert.deepEqual((got.result as { values: unknown }).values, { count: 2, steps: 2, delay_ms: 1 });
  const history = await answerStateRequest({ type: "agentlist.state.history.v1", thread_id: threadId, limit: 2 }, source, saver);
  assert.equal((history.result as unknown[]).length, 2);
  const first = (history.result as { checkpoint_id: string; parent_checkpoint_id: string }[])[0]!;
  const before = await answerStateRequest({ type: "agentlist.state.history.v1", thread_id: threadId, limit: 10, before: { checkpoint_id: first.checkpoint_id } }, source, saver);
  assert.equal((before.result as { checkpoint_id: string }[])[0]!.checkpoint_id, first.parent_checkpoint_id);
  const updated = await answerStateRequest({ type: "agentlist.state.update.v1", thread_id: threadId, values: { count: 9 }, as_node: "tick" }, source, saver);
  assert.equal(updated.ok, true);
  assert.equal((updated.result as { checkpoint: { thread_id: string } }).checkpoint.thread_id, threadId);
  const after = await answerStateRequest({ type: "agentlist.state.get.v1", thread_id: threadId }, source, saver);
  assert.equal((after.result as { values: { count: number } }).values.count, 9);
  const bulk = await answerStateRequest(
    { type: "agentlist.state.bulk_update.v1", thread_id: crypto.randomUUID(), supersteps: [[{ values: { count: 1 }, as_node: "tick" }]] },
    source,
    saver,
  );
  assert.equal(bulk.ok, true, JSON.stringify(bulk));
  const bad = await answerStateRequest({ type: "agentlist.state.update.v1", thread_id: threadId, values: { count: 1 }, as_node: "nope" }, source, saver);
  assert.equal(bad.ok, false);
  assert.equal(bad.status_code, 400, JSON.stringify(bad));
  assert.equal(bad.thread_id, threadId); // failures, too, name the thread they answer about
});

test("graphs are described with schemas, drawables per xray depth and subgraphs", async () => {
  const echo = await describeGraph(sources.get("js_echo")!, silentLogger);
  assert.equal(echo.name, "Echo agent (JS)");
  assert.deepEqual(Object.keys((echo.schemas?.state_schema as { properties: object }).properties), ["messages", "reply"]);
  assert.deepEqual(Object.keys(echo.drawable ?? {}), ["0"]);
  const nodes = (echo.drawable!["0"] as { nodes: { id: string }[] }).nodes.map((n) => n.id);
  assert.deepEqual(nodes, ["__start__", "prepare", "respond", "__end__"]);
  const nested = await describeGraph(await loadGraph({ graphId: "nested", file: NESTED, exportName: "parent", description: "d" }), silentLogger);
  assert.deepEqual(Object.keys(nested.drawable ?? {}), ["0", "1"]);
  assert.deepEqual(Object.keys(nested.subgraphs ?? {}), ["child"]);
  assert.equal(nested.description, "d");
  const typed = await describeGraph(await loadGraph({ graphId: "typed", file: NESTED, exportName: "typed", description: null }), silentLogger);
  const schema = typed.schemas?.state_schema as { properties: Record<string, { type: string }> };
  assert.equal(schema.properties.question?.type, "string");
});

test("checkpoint metadata follows Python's get_checkpoint_metadata", () => {
  const config = {
    configurable: { thread_id: "t", run_id: "from-configurable", user: "u", deep: { a: 1 }, __pregel_x: 1, checkpoint_ns: "" },
    metadata: { run_id: "r", thread_id: "t", langgraph_step: 3, ls_provider: "x", nested: { b: 2 }, flag: true, text: "a\u0000b" },
  };
  assert.deepEqual(checkpointMetadata(config, { source: "loop", step: 1, parents: {} }), {
    source: "loop",
    step: 1,
    parents: {},
    run_id: "r",
    flag: true,
    text: "ab",
    user: "u",
  });
});

test("thread states show Python's timestamps and no thread id in their metadata", () => {
  assert.equal(pythonTimestamp("2025-01-02T03:04:05.678Z"), "2025-01-02T03:04:05.678000+00:00");
  assert.equal(pythonTimestamp("2025-01-02T03:04:05.000Z"), "2025-01-02T03:04:05+00:00");
  assert.equal(pythonTimestamp("2025-01-02T03:04:05.123456+00:00"), "2025-01-02T03:04:05.123456+00:00");
  assert.equal(pythonTimestamp(undefined), null);
  const state = threadState({
    values: { a: 1 },
    next: [],
    tasks: [],
    config: { configurable: { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c" } },
    metadata: { step: 1, thread_id: "t" },
    createdAt: "2025-01-02T03:04:05.678Z",
  }) as Record<string, unknown>;
  assert.deepEqual(state.metadata, { step: 1 });
  assert.equal(state.created_at, "2025-01-02T03:04:05.678000+00:00");
});

test("drawable graphs say conditional and metadata only when there is some, as Python's", () => {
  const drawable = pythonDrawable({
    nodes: [{ id: "a", type: "runnable", data: {}, metadata: {} }, { id: "b", metadata: { m: 1 } }],
    edges: [{ source: "a", target: "b", conditional: false }, { source: "b", target: "a", conditional: true }],
  });
  assert.deepEqual(drawable, {
    nodes: [{ id: "a", type: "runnable", data: {} }, { id: "b", metadata: { m: 1 } }],
    edges: [{ source: "a", target: "b" }, { source: "b", target: "a", conditional: true }],
  });
});

test("store namespaces match on whole labels, as Python's store does", () => {
  assert.equal(namespacePattern(["uid", "*", "alice"], "prefix"), "^uid\\.[^.]+\\.alice(\\.|\\Z)");
  assert.equal(namespacePattern(["alice"], "suffix"), "(^|\\.)alice\\Z");
  assert.equal(namespacePattern(["a-b"], "prefix"), "^a\\-b(\\.|\\Z)");
});

test("graphs may import the worker's own packages", async () => {
  const { isBareSpecifier } = (await import("../src/fallbackHooks.mjs" as string)) as { isBareSpecifier(s: string): boolean };
  assert.equal(isBareSpecifier("@langchain/langgraph"), true);
  assert.equal(isBareSpecifier("zod/v4"), true);
  for (const specifier of ["./a.ts", "../b", "/abs", "node:fs", "file:///x", "#internal"]) assert.equal(isBareSpecifier(specifier), false);
});
