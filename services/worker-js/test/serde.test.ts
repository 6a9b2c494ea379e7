import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AIMessage,
  AIMessageChunk,
  ChatMessage,
  FunctionMessage,
  HumanMessage,
  HumanMessageChunk,
  RemoveMessage,
  SystemMessage,
  ToolMessage,
  ToolMessageChunk,
} from "@langchain/core/messages";
import { Command, Send } from "@langchain/langgraph";
import { completeMessageDict, messageToDict } from "../src/messages.ts";
import { errorInfoOf, toJsonable } from "../src/serde.ts";

const BASE = { additional_kwargs: {}, response_metadata: {} };
const AI_FIELDS = { tool_calls: [], invalid_tool_calls: [], usage_metadata: null };

// Each expectation is what Python's langchain_core 1.x `message.model_dump()` gives.
test("messages serialise as Python's model_dump()", () => {
  const cases: [unknown, Record<string, unknown>][] = [
    [new HumanMessage({ content: "hi", id: "1" }), { content: "hi", ...BASE, type: "human", name: null, id: "1" }],
    [new AIMessage("x"), { content: "x", ...BASE, type: "ai", name: null, id: null, ...AI_FIELDS }],
    [
      new AIMessageChunk({ content: "x", id: "run-1" }),
      { content: "x", ...BASE, type: "AIMessageChunk", name: null, id: "run-1", ...AI_FIELDS, tool_call_chunks: [], chunk_position: null },
    ],
    [
      new ToolMessage({ content: "r", tool_call_id: "t" }),
      { content: "r", ...BASE, type: "tool", name: null, id: null, tool_call_id: "t", artifact: null, status: "success" },
    ],
    [new SystemMessage("s"), { content: "s", ...BASE, type: "system", name: null, id: null }],
    [new RemoveMessage({ id: "z" }), { content: "", ...BASE, type: "remove", name: null, id: "z" }],
    [
      new ToolMessageChunk({ content: "a", tool_call_id: "t" }),
      { content: "a", ...BASE, type: "ToolMessageChunk", name: null, id: null, tool_call_id: "t", artifact: null, status: "success" },
    ],
    [new HumanMessageChunk({ content: "x" }), { content: "x", ...BASE, type: "HumanMessageChunk", name: null, id: null }],
    [new ChatMessage({ content: "c", role: "r" }), { content: "c", ...BASE, type: "chat", name: null, id: null, role: "r" }],
    [new FunctionMessage({ content: "f", name: "n" }), { content: "f", ...BASE, type: "function", name: "n", id: null }],
  ];
  for (const [message, expected] of cases) {
    assert.deepEqual(toJsonable(message), expected);
    assert.deepEqual(Object.keys(toJsonable(message) as object), Object.keys(expected));
  }
});

test("a chunk completes into its message type", () => {
  const chunk = messageToDict(new AIMessageChunk({ content: "x", id: "m" }));
  assert.deepEqual(completeMessageDict(chunk), { content: "x", ...BASE, type: "ai", name: null, id: "m", ...AI_FIELDS });
  const human = messageToDict(new HumanMessage("h"));
  assert.equal(completeMessageDict(human), human);
});

test("anything becomes JSON without throwing", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const value = toJsonable({
    date: new Date("2024-01-02T03:04:05.000Z"),
    map: new Map([["k", 1]]),
    set: new Set([1, 2]),
    big: 10n,
    huge: 2n ** 80n,
    nan: Number.NaN,
    skip: undefined,
    fn: () => 1,
    list: [undefined, 1],
    error: new TypeError("bad"),
    bytes: new TextEncoder().encode("hé"),
    cyclic,
    command: new Command({ resume: "yes" }),
    send: new Send("node", { x: 1 }),
    nested: { message: new HumanMessage({ content: "in", id: "h" }) },
  });
  assert.deepEqual(value, {
    date: "2024-01-02T03:04:05.000Z",
    map: { k: 1 },
    set: [1, 2],
    big: 10,
    huge: "1208925819614629174706176",
    nan: null,
    list: [null, 1],
    error: { error: "TypeError", message: "bad" },
    bytes: "hé",
    cyclic: { a: 1, self: "[object Object]" },
    command: { update: null, resume: "yes", goto: [], graph: null },
    send: { node: "node", arg: { x: 1 } },
    nested: { message: { content: "in", ...BASE, type: "human", name: null, id: "h" } },
  });
});

test("errors travel as their class name and message", () => {
  class GraphBroke extends Error {}
  assert.deepEqual(errorInfoOf(new GraphBroke("no")), { error: "GraphBroke", message: "no" });
  assert.deepEqual(errorInfoOf(new RangeError("r")), { error: "RangeError", message: "r" });
  assert.deepEqual(errorInfoOf("text"), { error: "Error", message: "text" });
});
