// AgentList Studio. Server data reaches the page only as text nodes and attribute values,
// never as markup.
import { SSEParser, eventData } from "./sse.js";
import { TOKEN_KEY, authHeaders, authProblem } from "./auth.js";

const STREAM_MODES = [
  "values", "updates", "messages-tuple", "custom", "events", "debug", "tasks", "checkpoints",
];
const CHAT_INPUT = { messages: [{ role: "user", content: "hi" }] };
const KNOWN_STATES = new Set([
  "ok", "healthy", "success", "idle", "busy", "draining", "dead", "pending", "running",
  "error", "interrupted", "timeout",
]);
const POLL_MS = 5000;
const SVG_NS = "http://www.w3.org/2000/svg";

/** @type {{assistant: any, thread: any, run: {threadId: string, runId: string} | null,
 *   interrupted: {assistantId: string, asks: {id?: string, value: unknown}[]} | null}} */
const state = { assistant: null, thread: null, run: null, interrupted: null };

// ---- DOM helpers -------------------------------------------------------------------------

/** @param {string} id */
function $(id) {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`missing #${id}`);
  return node;
}

/**
 * @param {Element} node
 * @param {Record<string, unknown>} attrs
 * @param {Array<Node | string | number | null | undefined>} children
 */
function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(typeof child === "number" ? String(child) : child);
  }
  return node;
}

/** @param {string} tag @param {Record<string, unknown>} [attrs] @param {...(Node | string | number | null | undefined)} children */
function h(tag, attrs = {}, ...children) {
  return /** @type {HTMLElement} */ (fill(document.createElement(tag), attrs, children));
}

/** @param {string} tag @param {Record<string, unknown>} [attrs] @param {...(Node | string | null | undefined)} children */
function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** @param {unknown} value */
function stateClass(value) {
  return typeof value === "string" && KNOWN_STATES.has(value) ? value : "";
}

/** @param {unknown} value */
function json(value) {
  return JSON.stringify(value, null, 2) ?? String(value);
}

// The tail: ids made in the same minute share their head (UUIDv7 starts with the time).
/** @param {string} id */
const short = (id) => String(id).slice(-8);

/** @param {unknown} error */
function showError(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

// ---- Token ---------------------------------------------------------------------------------

/** The token the user gave this tab, or "" (storage may be unavailable: then there is none). */
function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? "";
  } catch {
    return "";
  }
}

/** @param {string} value */
function saveToken(value) {
  const trimmed = value.trim();
  if (trimmed) sessionStorage.setItem(TOKEN_KEY, trimmed);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("token").setAttribute("aria-invalid", "false");
}

/** @param {Record<string, string>} headers */
function withToken(headers) {
  return { ...headers, ...authHeaders(token()) };
}

function setUpToken() {
  const input = /** @type {HTMLInputElement} */ ($("token"));
  input.value = token();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveToken(input.value);
    void refreshAll();
  });
}

// ---- API ---------------------------------------------------------------------------------

/** An error answer of the API, with its status. */
class ApiError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** @param {unknown} error */
const isAuthError = (error) => error instanceof ApiError && (error.status === 401 || error.status === 403);

/** @param {Response} response */
async function readJson(response) {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** @param {Response} response @param {unknown} body */
function failure(response, body) {
  const detail = body && typeof body === "object" && "detail" in body ? body.detail : body;
  const text = typeof detail === "string" ? detail : json(detail);
  const problem = authProblem(response.status, token() !== "", text);
  if (problem !== null) {
    if (response.status === 401) $("token").setAttribute("aria-invalid", "true");
    return new ApiError(problem, response.status);
  }
  return new ApiError(`${response.status} ${response.statusText}: ${text}`, response.status);
}

/** @param {string} method @param {string} path @param {unknown} [body] */
async function api(method, path, body) {
  /** @type {RequestInit} */
  const init = { method, headers: withToken({ Accept: "application/json" }) };
  if (body !== undefined) {
    init.headers = { ...init.headers, "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await readJson(response);
  if (!response.ok) throw failure(response, data);
  return data;
}

const enc = encodeURIComponent;

// ---- Assistants, graph drawing and schema --------------------------------------------------

/** The assistants listed, to find a thread's own. @type {any[]} */
let assistantList = [];

async function loadAssistants() {
  const assistants = await api("POST", "/assistants/search", {
    limit: 100, sort_by: "graph_id", sort_order: "asc",
  });
  assistantList = assistants;
  const list = $("assistants");
  list.replaceChildren(...assistants.map((/** @type {any} */ a) => {
    const button = h("button", { type: "button", "data-id": a.assistant_id, "aria-current": a.assistant_id === state.assistant?.assistant_id },
      a.graph_id, a.name && a.name !== a.graph_id ? h("span", { class: "muted" }, a.name) : null);
    button.addEventListener("click", () => selectAssistant(a).catch(showError));
    return h("li", {}, button);
  }));
  if (assistants.length === 0) list.append(h("li", { class: "muted" }, "No graphs registered yet."));
  const current = assistants.find((/** @type {any} */ a) => a.assistant_id === state.assistant?.assistant_id);
  if (!current && assistants.length > 0) await selectAssistant(assistants[0]);
}

/** @param {any} assistant */
async function selectAssistant(assistant) {
  state.assistant = assistant;
  markCurrent("assistants", assistant.assistant_id);
  $("graph-name").textContent = assistant.graph_id;
  const [graph, schemas] = await Promise.allSettled([
    api("GET", `/assistants/${enc(assistant.assistant_id)}/graph`),
    api("GET", `/assistants/${enc(assistant.assistant_id)}/schemas`),
  ]);
  $("graph").replaceChildren(graph.status === "fulfilled"
    ? drawGraph(graph.value)
    : h("p", { class: "muted" }, `No drawing: ${graph.reason.message}`));
  const inputSchema = schemas.status === "fulfilled" ? schemas.value.input_schema : null;
  renderSchema(inputSchema);
  const chat = Boolean(inputSchema?.properties?.messages);
  /** @type {HTMLTextAreaElement} */ ($("input")).value = json(chat ? CHAT_INPUT : {});
  setModes(chat ? ["values", "messages-tuple"] : ["values", "updates"]);
}

/** @param {string} listId @param {string} id */
function markCurrent(listId, id) {
  for (const button of $(listId).querySelectorAll("li > button")) {
    button.setAttribute("aria-current", String(button.getAttribute("data-id") === id));
  }
}

/** @param {{nodes?: any[], edges?: any[]}} graph */
function drawGraph(graph) {
  const nodes = graph.nodes ?? [];
  const edges = graph.edges ?? [];
  const layer = layers(nodes, edges);
  const rows = /** @type {Map<number, any[]>} */ (new Map());
  for (const node of nodes) rows.set(layer.get(node.id) ?? 0, [...(rows.get(layer.get(node.id) ?? 0) ?? []), node]);
  const rowHeight = 64, boxHeight = 28, gap = 24;
  const widthOf = (/** @type {any} */ node) => Math.max(60, label(node).length * 7.5 + 20);
  const rowWidths = [...rows.values()].map((row) => row.reduce((w, n) => w + widthOf(n) + gap, -gap));
  const width = Math.max(200, ...rowWidths) + 80;
  /** @type {Map<string, {x: number, y: number, w: number}>} */
  const at = new Map();
  for (const [depth, row] of rows) {
    let x = (width - row.reduce((w, n) => w + widthOf(n) + gap, -gap)) / 2;
    for (const node of row) {
      at.set(node.id, { x: x + widthOf(node) / 2, y: 20 + depth * rowHeight + boxHeight / 2, w: widthOf(node) });
      x += widthOf(node) + gap;
    }
  }
  const height = 40 + Math.max(0, ...layer.values()) * rowHeight + boxHeight;
  const root = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "graph drawing" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
  for (const edge of edges) {
    const from = at.get(edge.source), to = at.get(edge.target);
    if (!from || !to) continue;
    root.append(s("path", { class: edge.conditional ? "edge conditional" : "edge", d: edgePath(from, to, boxHeight), "marker-end": "url(#arrow)" },
      s("title", {}, `${edge.source} → ${edge.target}${edge.conditional ? " (conditional)" : ""}`)));
  }
  for (const node of nodes) {
    const p = /** @type {{x: number, y: number, w: number}} */ (at.get(node.id));
    const terminal = node.id === "__start__" || node.id === "__end__";
    root.append(s("g", { class: terminal ? "node terminal" : "node" },
      s("rect", { x: p.x - p.w / 2, y: p.y - boxHeight / 2, width: p.w, height: boxHeight, rx: terminal ? 14 : 4 }),
      s("text", { x: p.x, y: p.y }, label(node)),
      s("title", {}, String(node.id))));
  }
  return root;
}

/** @param {any} node */
function label(node) {
  if (node.id === "__start__") return "start";
  if (node.id === "__end__") return "end";
  return String(node.data?.name ?? node.id);
}

/** Rows by shortest distance from start; the end node always last. @param {any[]} nodes @param {any[]} edges */
function layers(nodes, edges) {
  /** @type {Map<string, number>} */
  const depth = new Map();
  const start = nodes.find((n) => n.id === "__start__") ?? nodes[0];
  if (!start) return depth;
  depth.set(start.id, 0);
  const queue = [start.id];
  while (queue.length > 0) {
    const id = /** @type {string} */ (queue.shift());
    for (const edge of edges) {
      if (edge.source === id && !depth.has(edge.target)) {
        depth.set(edge.target, /** @type {number} */ (depth.get(id)) + 1);
        queue.push(edge.target);
      }
    }
  }
  let deepest = Math.max(0, ...[...depth].filter(([id]) => id !== "__end__").map(([, d]) => d));
  for (const node of nodes) if (!depth.has(node.id) && node.id !== "__end__") depth.set(node.id, ++deepest);
  if (nodes.some((n) => n.id === "__end__")) depth.set("__end__", deepest + 1);
  return depth;
}

/** @param {{x: number, y: number, w: number}} from @param {{x: number, y: number, w: number}} to @param {number} boxHeight */
function edgePath(from, to, boxHeight) {
  const half = boxHeight / 2;
  if (from === to) {
    const x = from.x + from.w / 2;
    return `M ${x} ${from.y - 6} C ${x + 36} ${from.y - 26}, ${x + 36} ${from.y + 26}, ${x} ${from.y + 6}`;
  }
  if (to.y > from.y) {
    const y1 = from.y + half, y2 = to.y - half, mid = (y1 + y2) / 2;
    return `M ${from.x} ${y1} C ${from.x} ${mid}, ${to.x} ${mid}, ${to.x} ${y2}`;
  }
  // A loop back up: bend out to the right of both boxes.
  const x1 = from.x + from.w / 2, x2 = to.x + to.w / 2, bend = Math.max(x1, x2) + 40;
  return `M ${x1} ${from.y} C ${bend} ${from.y}, ${bend} ${to.y}, ${x2} ${to.y}`;
}

/** @param {any} schema */
function renderSchema(schema) {
  $("schema-raw").textContent = schema ? json(schema) : "";
  const required = new Set(schema?.required ?? []);
  const fields = Object.entries(schema?.properties ?? {}).map(([name, prop]) =>
    h("li", {}, h("code", {}, name), ": ", typeName(prop), required.has(name) ? " (required)" : ""));
  $("schema").replaceChildren(...(fields.length > 0 ? fields : [h("li", { class: "muted" }, "No input schema.")]));
}

/** @param {any} prop @returns {string} */
function typeName(prop) {
  if (!prop || typeof prop !== "object") return "any";
  if (prop.$ref) return String(prop.$ref).split("/").pop() ?? "any";
  const union = prop.anyOf ?? prop.oneOf;
  if (Array.isArray(union)) return union.map(typeName).join(" | ");
  if (prop.type === "array") return `array<${typeName(prop.items)}>`;
  return Array.isArray(prop.type) ? prop.type.join(" | ") : String(prop.type ?? "any");
}

// ---- Threads -------------------------------------------------------------------------------

async function loadThreads() {
  const threads = await api("POST", "/threads/search", { limit: 30, sort_by: "updated_at", sort_order: "desc" });
  $("threads").replaceChildren(...threads.map((/** @type {any} */ t) => {
    const button = h("button", { type: "button", title: t.thread_id, "data-id": t.thread_id, "aria-current": t.thread_id === state.thread?.thread_id },
      h("code", {}, short(t.thread_id)), h("span", { class: stateClass(t.status) }, t.status));
    button.addEventListener("click", () => selectThread(t).catch(showError));
    return h("li", {}, button);
  }));
  if (threads.length === 0) $("threads").append(h("li", { class: "muted" }, "No threads yet."));
}

async function createThread() {
  const thread = await api("POST", "/threads", {});
  await selectThread(thread);
  await loadThreads();
  return thread;
}

/** @param {any} thread */
async function selectThread(thread) {
  state.thread = thread;
  markCurrent("threads", thread.thread_id);
  $("thread-name").textContent = thread.thread_id;
  // A thread that has run belongs to its assistant's graph: show that one.
  const own = assistantList.find((a) => a.assistant_id === thread.metadata?.assistant_id);
  if (own && own.assistant_id !== state.assistant?.assistant_id) await selectAssistant(own);
  await loadThreadState();
}

async function loadThreadState() {
  if (!state.thread) return;
  const id = enc(state.thread.thread_id);
  const [current, history] = await Promise.allSettled([
    api("GET", `/threads/${id}/state`),
    api("GET", `/threads/${id}/history?limit=10`),
  ]);
  $("state").textContent = current.status === "fulfilled" ? json(current.value) : current.reason.message;
  renderInterrupts(current.status === "fulfilled" ? current.value : null);
  $("history").replaceChildren(...(history.status === "fulfilled"
    ? history.value.map((/** @type {any} */ cp) => eventItem(
      `step ${cp.metadata?.step ?? "?"}`, `${cp.metadata?.source ?? ""} → next ${JSON.stringify(cp.next ?? [])}`, cp.values, false))
    : [h("li", { class: "muted" }, history.reason.message)]));
}

// ---- Runs ----------------------------------------------------------------------------------

function buildModes() {
  $("modes").append(...STREAM_MODES.map((mode) =>
    h("label", {}, h("input", { type: "checkbox", name: "mode", value: mode }), mode)));
}

/** @param {string[]} modes */
function setModes(modes) {
  for (const box of $("modes").querySelectorAll("input")) box.checked = modes.includes(box.value);
}

function checkedModes() {
  return [...$("modes").querySelectorAll("input")].filter((box) => box.checked).map((box) => box.value);
}

/** @param {boolean} running */
function setRunning(running) {
  /** @type {HTMLButtonElement} */ ($("run")).disabled = running;
  /** @type {HTMLButtonElement} */ ($("cancel")).disabled = !running || state.run === null;
  /** @type {HTMLButtonElement} */ ($("resume")).disabled = running;
}

/** @param {string | null} location */
function runIdFrom(location) {
  return location?.split("/").filter(Boolean).pop() ?? null;
}

/** @param {string} title @param {string} preview @param {unknown} data @param {boolean} open */
function eventItem(title, preview, data, open) {
  return h("li", {}, h("details", { open },
    h("summary", {}, h("code", {}, title), h("span", { class: "muted" }, preview.slice(0, 120))),
    h("pre", {}, json(data))));
}

/** @type {Map<string, HTMLElement>} */
let aiMessages = new Map();

/** @param {unknown} content @returns {string} */
function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((block) => (typeof block === "string" ? block : block?.type === "text" ? String(block.text ?? "") : "")).join("");
}

/** @param {any} message */
function isAi(message) {
  return message && typeof message === "object" && ["ai", "AIMessageChunk", "assistant"].includes(message.type ?? message.role);
}

/** @param {any} message @param {boolean} delta */
function showAi(message, delta) {
  if (!isAi(message)) return;
  const key = String(message.id ?? "");
  let paragraph = aiMessages.get(key);
  if (!paragraph) {
    paragraph = h("p");
    aiMessages.set(key, paragraph);
    $("ai").append(paragraph);
  }
  const text = textOf(message.content);
  paragraph.textContent = delta ? (paragraph.textContent ?? "") + text : text;
}

let eventCount = 0;

/** @param {import("./sse.js").SSEEvent} event */
function onEvent(event) {
  const data = eventData(event);
  const base = event.event.split("|")[0];
  if (base === "metadata" && state.run === null && data && typeof data === "object" && "run_id" in data) {
    state.run = { threadId: state.thread.thread_id, runId: String(data.run_id) };
    $("run-id").textContent = state.run.runId;
  } else if (base === "messages" && Array.isArray(data)) {
    showAi(data[0], true);
  } else if ((base === "messages/partial" || base === "messages/complete") && Array.isArray(data)) {
    for (const message of data) showAi(message, false);
  } else if (base === "error") {
    $("run-status").textContent = "error";
  }
  const events = $("events");
  const atBottom = events.scrollTop + events.clientHeight >= events.scrollHeight - 8;
  const preview = typeof data === "string" ? data : JSON.stringify(data) ?? "";
  events.append(eventItem(`#${++eventCount} ${event.event}`, (event.id ? `[${event.id}] ` : "") + preview, data, base === "error"));
  if (atBottom) events.scrollTop = events.scrollHeight;
}

/** @param {ReadableStream<Uint8Array>} body */
async function consume(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SSEParser();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.push(value).forEach(onEvent);
  }
  parser.end().forEach(onEvent);
}

async function run() {
  clearError();
  let input;
  try {
    input = JSON.parse(/** @type {HTMLTextAreaElement} */ ($("input")).value);
  } catch (error) {
    showError(`The input is not JSON: ${error instanceof Error ? error.message : error}`);
    return;
  }
  if (!state.assistant) {
    showError("Pick a graph first.");
    return;
  }
  await streamRun(state.assistant.assistant_id, { input });
}

/** Start a run on the current thread (a new one if none) and show its stream.
 * @param {string} assistantId @param {Record<string, unknown>} what input or command */
async function streamRun(assistantId, what) {
  $("ai").replaceChildren();
  $("events").replaceChildren();
  $("run-id").textContent = "";
  aiMessages = new Map();
  eventCount = 0;
  state.run = null;
  setRunning(true);
  $("run-status").textContent = "starting…";
  const status = $("run-status");
  let outcome = "failed";
  try {
    const thread = state.thread ?? (await createThread());
    const response = await fetch(`/threads/${enc(thread.thread_id)}/runs/stream`, {
      method: "POST",
      headers: withToken({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ assistant_id: assistantId, ...what, stream_mode: checkedModes() }),
    });
    if (!response.ok || !response.body) throw failure(response, await readJson(response));
    const runId = runIdFrom(response.headers.get("Content-Location"));
    if (runId) {
      state.run = { threadId: thread.thread_id, runId };
      $("run-id").textContent = runId;
    }
    setRunning(true);
    status.textContent = "streaming…";
    await consume(response.body);
    outcome = status.textContent === "cancelling…" ? "cancelled" : status.textContent === "error" ? "error" : "done";
  } catch (error) {
    showError(error);
  } finally {
    state.run = null;
    setRunning(false);
    await Promise.all([loadThreads(), loadThreadState()]).catch(showError);
    // Set last, once the thread's state tells whether the graph now waits for an answer.
    status.textContent = outcome === "done" && state.interrupted ? "interrupted" : outcome;
  }
}

// ---- Interrupts ----------------------------------------------------------------------------

/** The interrupts a thread's state waits on: ``interrupts``, or its tasks' (older servers).
 * @param {any} threadState @returns {{id?: string, value: unknown}[]} */
function pendingInterrupts(threadState) {
  if (Array.isArray(threadState?.interrupts)) return threadState.interrupts;
  return (threadState?.tasks ?? []).flatMap((/** @type {any} */ task) => task.interrupts ?? []);
}

/** Show what the graph asks, with a box per interrupt for the answer.
 * @param {any} threadState */
function renderInterrupts(threadState) {
  const asks = pendingInterrupts(threadState);
  state.interrupted = asks.length > 0
    ? { assistantId: String(threadState.metadata?.assistant_id ?? state.assistant?.assistant_id ?? ""), asks }
    : null;
  $("interrupt").hidden = asks.length === 0;
  $("interrupts").replaceChildren(...asks.map((ask, index) => {
    const box = h("textarea", { rows: 2, spellcheck: "false", "aria-label": `answer ${index + 1}`, "data-id": ask.id ?? "" });
    return h("li", {}, h("pre", { class: "ask" }, typeof ask.value === "string" ? ask.value : json(ask.value)),
      h("label", {}, "Answer (JSON, or plain text)"), box);
  }));
}

/** An answer as typed: JSON if it parses, else the text itself. @param {string} text */
function answerOf(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function resume() {
  clearError();
  const pending = state.interrupted;
  if (!pending || !state.thread) return;
  const boxes = [.../** @type {NodeListOf<HTMLTextAreaElement>} */ ($("interrupts").querySelectorAll("textarea"))];
  // One interrupt takes the answer itself; several, a map from each interrupt's id to its own.
  const answer = boxes.length === 1
    ? answerOf(boxes[0].value)
    : Object.fromEntries(boxes.map((box) => [box.getAttribute("data-id"), answerOf(box.value)]));
  $("interrupt").hidden = true;
  await streamRun(pending.assistantId, { command: { resume: answer } });
}

async function cancelRun() {
  if (!state.run) return;
  const { threadId, runId } = state.run;
  /** @type {HTMLButtonElement} */ ($("cancel")).disabled = true;
  try {
    await api("POST", `/threads/${enc(threadId)}/runs/${enc(runId)}/cancel`);
    $("run-status").textContent = "cancelling…";
  } catch (error) {
    showError(error);
  }
}

// ---- Workers and health --------------------------------------------------------------------

async function loadWorkers() {
  let workers;
  try {
    workers = await api("GET", "/workers");
  } catch (error) {
    // Workers are an operator's view: a token without that right still uses the rest.
    if (!isAuthError(error)) throw error;
    const why = /** @type {ApiError} */ (error).status === 403 ? "Needs an operator's token." : /** @type {Error} */ (error).message;
    $("workers").querySelector("tbody")?.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted" }, why)));
    return;
  }
  const live = workers.filter((/** @type {any} */ w) => w.state !== "dead");
  const dead = workers.filter((/** @type {any} */ w) => w.state === "dead");
  const rows = live.map((/** @type {any} */ w) => h("tr", { "data-id": w.worker_id },
    workerCell(w),
    h("td", { class: stateClass(w.state) }, w.state),
    h("td", {}, `${w.inflight}/${w.capacity}`),
    h("td", { title: String(w.last_heartbeat_at) }, `${Number(w.seconds_since_heartbeat).toFixed(1)}s ago`)));
  $("workers").querySelector("tbody")?.replaceChildren(
    ...(rows.length > 0 ? rows : [h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No live workers."))]));
  // Dead workers are debris of stopped processes, kept apart so that they do not read as load.
  const deadBox = $("dead-workers");
  deadBox.hidden = dead.length === 0;
  $("dead-count").textContent = `(${dead.length})`;
  deadBox.querySelector("tbody")?.replaceChildren(...dead.map((/** @type {any} */ w) => h("tr", { "data-id": w.worker_id },
    workerCell(w),
    h("td", {}, (w.graphs ?? []).join(", ")),
    h("td", { title: String(w.last_heartbeat_at) }, `${ago(Number(w.seconds_since_heartbeat))} ago`))));
}

// Pools size themselves to their graphs' load: each shows its size against its target and
// bounds, and why it wants that many. A stack without pools shows no section.
async function loadPools() {
  let pools;
  try {
    pools = await api("GET", "/workers/pools");
  } catch (error) {
    if (!isAuthError(error)) throw error;
    $("pools-section").hidden = true;
    return;
  }
  $("pools-section").hidden = pools.length === 0;
  $("pools").querySelector("tbody")?.replaceChildren(...pools.map((/** @type {any} */ p) => h("tr", { "data-id": `${p.team}/${p.pool_id}` },
    h("td", { title: `team ${p.team}\ngraphs: ${(p.graphs ?? []).join(", ")}\nworkers: ${(p.workers ?? []).join(", ")}` },
      h("code", {}, short(p.pool_id)), " ", h("span", { class: "muted" }, p.team)),
    h("td", { title: `min ${p.minimum}, max ${p.maximum}` }, `${p.size} → ${p.target} (${p.minimum}-${p.maximum})`),
    h("td", { class: "reason" }, p.reason || "—"),
    h("td", { title: String(p.reported_at) }, `${ago(Number(p.seconds_since_report))} ago`))));
}

/** @param {any} w */
function workerCell(w) {
  return h("td", { title: `${w.worker_id}\n${w.language} ${w.version ?? ""} on ${w.host ?? "?"}\ngraphs: ${(w.graphs ?? []).join(", ")}` },
    h("code", {}, short(w.worker_id)), " ", h("span", { class: "muted" }, w.language));
}

/** @param {number} seconds */
function ago(seconds) {
  if (seconds < 120) return `${seconds.toFixed(0)}s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(0)} h`;
}

async function loadHealth() {
  const pills = $("health");
  try {
    const response = await fetch("/health", { headers: withToken({ Accept: "application/json" }) });
    const health = await readJson(response);
    if (!health || typeof health !== "object") throw failure(response, health);
    const pill = (/** @type {string} */ name, /** @type {string} */ value) =>
      h("span", { class: `pill ${value === "ok" ? "ok" : "bad"}`, title: value }, `${name}: ${value}`);
    pills.replaceChildren(
      pill("api", String(health.status)),
      ...Object.entries(health.dependencies ?? {}).map(([name, value]) => pill(name, String(value))),
      ...Object.entries(health.workers ?? {}).map(([name, count]) =>
        h("span", { class: `pill ${stateClass(name)}` }, `${count} ${name}`)));
  } catch (error) {
    pills.replaceChildren(h("span", { class: "pill bad" }, `api unreachable: ${error instanceof Error ? error.message : error}`));
  }
}

async function refreshAll() {
  clearError();
  await Promise.all([loadAssistants(), loadThreads(), loadWorkers(), loadPools(), loadHealth(), loadThreadState()]).catch(showError);
}

function start() {
  buildModes();
  setUpToken();
  $("run").addEventListener("click", () => void run());
  $("resume").addEventListener("click", () => void resume());
  $("cancel").addEventListener("click", () => void cancelRun());
  $("refresh").addEventListener("click", () => void refreshAll());
  $("new-thread").addEventListener("click", () => createThread().catch(showError));
  void refreshAll();
  setInterval(() => {
    if (document.visibilityState === "visible") void Promise.all([loadWorkers(), loadPools(), loadHealth()]).catch(() => {});
  }, POLL_MS);
}

start();
