// The official JS SDK against AgentList, the way agent-chat-ui's useStream uses it: create a
// thread, stream a run with messages-tuple (resumable), then join it again from the start with
// lastEventId "-1" as useStream does when it mounts. Prints a JSON summary; exits 1 on failure.
// AGENTLIST_API_KEY or AGENTLIST_BEARER authenticate it.
import assert from "node:assert/strict";
import { Client } from "@langchain/langgraph-sdk";

// On an authenticated server: an API key (sent as x-api-key, as agent-chat-ui sends its apiKey)
// or a bearer token in the default headers.
const client = new Client({
  apiUrl: process.env.AGENTLIST_API_URL,
  apiKey: process.env.AGENTLIST_API_KEY || undefined,
  defaultHeaders: process.env.AGENTLIST_BEARER
    ? { Authorization: `Bearer ${process.env.AGENTLIST_BEARER}` }
    : undefined,
});
// By graph: the shared servers hold other tests' graphs too, more than a page of them.
const assistants = await client.assistants.search({
  graphId: "agent",
  metadata: { created_by: "system" },
});
assert.equal(assistants.length, 1, "the agent graph is registered, with one system assistant");

const thread = await client.threads.create();
let runId;
const streamed = [];
for await (const part of client.runs.stream(thread.thread_id, "agent", {
  input: { messages: [{ type: "human", content: "hi from js" }] },
  streamMode: ["values", "messages-tuple"],
  streamResumable: true,
  onDisconnect: "continue",
  onRunCreated: (meta) => {
    runId = meta.run_id;
  },
})) {
  streamed.push({ event: part.event, data: part.data, id: part.id });
}
assert.ok(runId, "onRunCreated gave the run id (from Content-Location)");
assert.equal(streamed[0].event, "metadata");
const tokens = streamed
  .filter((p) => p.event === "messages")
  .map((p) => p.data[0].content)
  .join("");
assert.equal(tokens, "echo: hi from js");

const joined = [];
for await (const part of client.runs.joinStream(thread.thread_id, runId, { lastEventId: "-1" })) {
  joined.push({ event: part.event, data: part.data, id: part.id });
}
assert.deepEqual(joined, streamed, "a replay from the start equals what was streamed");

const state = await client.threads.getState(thread.thread_id);
assert.equal(state.values.messages.at(-1).content, "echo: hi from js");
const history = await client.threads.getHistory(thread.thread_id, { limit: 10 });
assert.ok(history.length >= 2);

console.log(JSON.stringify({ ok: true, run_id: runId, events: streamed.length, tokens }));
