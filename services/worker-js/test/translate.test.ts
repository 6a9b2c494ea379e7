import assert from "node:assert/strict";
import { test } from "node:test";
import { AIMessageChunk, HumanMessage } from "@langchain/core/messages";
import { toJsonable } from "../src/serde.ts";
import { ChunkTranslator, eventName, messageMetadata, planStream, withCheckpoints } from "../src/translate.ts";

test("the API's stream modes map onto LangGraph's", () => {
  assert.deepEqual(planStream([], false).graphModes, ["values"]);
  assert.deepEqual(planStream(["messages-tuple", "updates"], false).graphModes, ["updates", "messages"]);
  assert.deepEqual(planStream(["events"], true), { requested: new Set(["events"]), graphModes: ["values"], useEvents: true, subgraphs: true });
  assert.equal(eventName("values", ["child:1", "inner:2"]), "values|child:1|inner:2");
});

test("chunks of unrequested modes are dropped; subgraph chunks are named by namespace", () => {
  const translator = new ChunkTranslator(planStream(["updates"], true));
  assert.deepEqual(translator.translate([], "values", {}), []);
  assert.deepEqual(translator.translate(["child:1"], "updates", { a: 1 }), [["updates|child:1", { a: 1 }]]);
  const flat = new ChunkTranslator(planStream(["updates"], false));
  assert.deepEqual(flat.translate(["child:1"], "updates", { a: 1 }), [["updates", { a: 1 }]]);
});

test("messages-tuple sends each chunk; messages accumulates it", () => {
  const translator = new ChunkTranslator(planStream(["messages", "messages-tuple"], false));
  const meta = { langgraph_node: "respond" };
  const first = translator.translate([], "messages", [new AIMessageChunk({ content: "Hel", id: "m1" }), meta]);
  assert.deepEqual(first.map(([name]) => name), ["messages", "messages/metadata", "messages/partial"]);
  assert.deepEqual(first[1]![1], { m1: { metadata: meta } });
  const second = toJsonable(translator.translate([], "messages", [new AIMessageChunk({ content: "lo", id: "m1" }), meta])) as [string, unknown][];
  assert.deepEqual(second.map(([name]) => name), ["messages", "messages/partial"]);
  const [chunk, metadata] = second[0]![1] as [Record<string, unknown>, unknown];
  assert.equal(chunk.type, "AIMessageChunk");
  assert.equal(chunk.content, "lo");
  assert.deepEqual(metadata, meta);
  const [partial] = second[1]![1] as [Record<string, unknown>];
  assert.equal(partial.type, "ai");
  assert.equal(partial.content, "Hello");
  const complete = translator.translate([], "messages", [new HumanMessage({ content: "done", id: "h" }), meta]);
  assert.deepEqual(complete.map(([name]) => name), ["messages", "messages/metadata", "messages/complete"]);
});

test("checkpoint payloads gain langgraph-api's checkpoint fields", () => {
  const config = { callbacks: [{}], configurable: { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c2" } };
  const parentConfig = { configurable: { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c1" } };
  const shaped = withCheckpoints({ config, parentConfig, values: {}, metadata: {}, next: ["a"], tasks: [{ id: "x", state: { configurable: { checkpoint_ns: "a:x" } } }] });
  assert.deepEqual(shaped, {
    config: { configurable: config.configurable },
    parent_config: parentConfig,
    values: {},
    metadata: {},
    next: ["a"],
    tasks: [{ id: "x", checkpoint: { checkpoint_ns: "a:x" } }],
    checkpoint: { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c2" },
    parent_checkpoint: { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c1" },
  });
  const translator = new ChunkTranslator(planStream(["debug"], false));
  const [[name, data]] = translator.translate([], "debug", { type: "checkpoint", step: 0, payload: { config } }) as [[string, { payload: Record<string, unknown> }]];
  assert.equal(name, "debug");
  assert.equal(data.payload.parent_config, null);
  assert.deepEqual(data.payload.checkpoint, { thread_id: "t", checkpoint_ns: "", checkpoint_id: "c2" });
});

test("values at an interrupt carry the state, as Python's do; interrupt_before/after sends none", () => {
  const translator = new ChunkTranslator(planStream(["values", "updates"], false));
  assert.deepEqual(translator.translate([], "values", { topic: "t" }), [["values", { topic: "t" }]]);
  const interrupt = { id: "i", value: "q" };
  assert.deepEqual(translator.translate([], "updates", { __interrupt__: [interrupt] }), [["updates", { __interrupt__: [interrupt] }]]);
  assert.deepEqual(translator.translate([], "values", { __interrupt__: [interrupt] }), [["values", { topic: "t", __interrupt__: [interrupt] }]]);
  assert.deepEqual(translator.translate([], "values", { __interrupt__: [] }), []);
  const fresh = new ChunkTranslator(planStream(["values"], false));
  assert.deepEqual(fresh.translate([], "values", { __interrupt__: [interrupt] }), [["values", { __interrupt__: [interrupt] }]]);
});

test("message metadata keeps user tags only, and no node name (Python's shape)", () => {
  assert.deepEqual(messageMetadata({ tags: ["seq:step:1"], name: "respond", langgraph_node: "respond", a: 1 }), { langgraph_node: "respond", a: 1 });
  assert.deepEqual(messageMetadata({ tags: ["mine", "seq:step:2"], langgraph_node: "n" }), { langgraph_node: "n", tags: ["mine"] });
  assert.deepEqual(messageMetadata({ tags: [], name: "model", langgraph_node: "n" }), { langgraph_node: "n", name: "model" });
  const translator = new ChunkTranslator(planStream(["messages-tuple"], false));
  const [event] = translator.translate([], "messages", [new AIMessageChunk({ content: "x", id: "m" }), { tags: [], langgraph_node: "n" }]);
  assert.deepEqual((event![1] as unknown[])[1], { langgraph_node: "n" });
});
