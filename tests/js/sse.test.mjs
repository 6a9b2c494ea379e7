// The Studio's SSE parser. tests/e2e/test_ui.py runs this on the file the API serves
// (AGENTLIST_SSE_JS); by hand: `node --test tests/js/sse.test.mjs` tests the source.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import test from "node:test";

const path =
  process.env.AGENTLIST_SSE_JS ?? new URL("../../services/api/static/sse.js", import.meta.url);
// A data: URL is always an ES module, whatever the file's name or nearest package.json says.
const source = await readFile(path, "utf8");
const { SSEParser, parseSSE, eventData } = await import(
  `data:text/javascript,${encodeURIComponent(source)}`
);

test("frames in the API's wire format, with CRLF, ids and heartbeats", () => {
  const text =
    'event: metadata\r\ndata: {"run_id":"r1"}\r\nid: 1-0\r\n\r\n' +
    ": heartbeat\r\n\r\n" +
    'event: values\r\ndata: {"n":1}\r\n\r\n';
  assert.deepEqual(parseSSE(text), [
    { event: "metadata", data: '{"run_id":"r1"}', id: "1-0" },
    { event: "values", data: '{"n":1}', id: null },
  ]);
});

test("events split anywhere across chunks, CRLF included", () => {
  const text = 'event: messages\r\ndata: [{"content":"é"}]\r\n\r\nevent: end\r\ndata: x\r\n\r\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new SSEParser();
    const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut)), ...parser.end()];
    assert.deepEqual(events.map((e) => [e.event, e.data]), [
      ["messages", '[{"content":"é"}]'],
      ["end", "x"],
    ], `cut at ${cut}`);
  }
});

test("multi-line data, default event name, LF and CR line ends, no-space values", () => {
  assert.deepEqual(parseSSE("data:a\ndata: b\n\nevent:e\rdata:c\r\r"), [
    { event: "message", data: "a\nb", id: null },
    { event: "e", data: "c", id: null },
  ]);
});

test("an event without data or without its blank line is not dispatched", () => {
  assert.deepEqual(parseSSE("event: lonely\n\nevent: cut\ndata: 1"), []);
});

test("eventData parses JSON and falls back to the text", () => {
  assert.deepEqual(eventData({ event: "values", data: '{"a":[1]}', id: null }), { a: [1] });
  assert.equal(eventData({ event: "x", data: "not json", id: null }), "not json");
});
