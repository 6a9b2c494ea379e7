/**
 * LangGraph.js stream chunks as langgraph-api's SSE events (its `astream_state`).
 *
 * The API's stream modes are not LangGraph's: `messages-tuple` is LangGraph's `messages` mode
 * sent as `[chunk, metadata]`; `messages` accumulates the same chunks into `messages/metadata`,
 * `messages/partial` and `messages/complete` events; `events` is `streamEvents(version: "v2")`.
 * Subgraph events are named `<event>|<ns1>|<ns2>`.
 */
import { isBaseMessageChunk, type BaseMessage, type BaseMessageChunk } from "@langchain/core/messages";
import { completeMessageDict, isMessage, messageToDict } from "./messages.js";
import { checkpointOf } from "./threadState.js";

export type EventPair = [event: string, data: unknown];

const SAME_NAME_MODES = ["values", "updates", "custom", "debug", "tasks", "checkpoints"] as const;
const MESSAGE_MODES = ["messages", "messages-tuple"];

/** What to ask LangGraph for, given the stream modes a client asked the API for. */
export interface StreamPlan {
  requested: ReadonlySet<string>;
  graphModes: string[];
  useEvents: boolean;
  subgraphs: boolean;
}

export function planStream(streamModes: readonly string[] | undefined, subgraphs: boolean): StreamPlan {
  const requested = new Set<string>(streamModes?.length ? streamModes : ["values"]);
  const graphModes: string[] = SAME_NAME_MODES.filter((mode) => requested.has(mode));
  if (MESSAGE_MODES.some((mode) => requested.has(mode))) graphModes.push("messages");
  // `events` alone: LangGraph still needs some mode; its chunks are not sent.
  if (graphModes.length === 0) graphModes.push("values");
  return { requested, graphModes, useEvents: requested.has("events"), subgraphs };
}

export function eventName(base: string, namespace: readonly string[]): string {
  return namespace.length ? [base, ...namespace].join("|") : base;
}

/** Turns each `(namespace, mode, chunk)` of one run into zero or more events. */
export class ChunkTranslator {
  private readonly messages = new Map<string, BaseMessage>();
  private readonly lastValues = new Map<string, unknown>();

  constructor(readonly plan: StreamPlan) {}

  translate(namespace: readonly string[], mode: string, chunk: unknown): EventPair[] {
    const ns = this.plan.subgraphs ? namespace : [];
    if (mode === "messages") return this.messageEvents(ns, chunk);
    if (mode === "values" && this.plan.requested.has(mode)) return this.valuesEvents(ns, chunk);
    if (this.plan.requested.has(mode)) return [[eventName(mode, ns), preprocess(mode, chunk)]];
    return [];
  }

  /**
   * At an interrupt, LangGraph.js streams `values` as `{__interrupt__}` alone; Python sends the
   * graph's current values with `__interrupt__` added (clients such as useStream replace their
   * state with it), and no `values` at all for an `interrupt_before`/`after` (no interrupts).
   * The current values are the last ones streamed: an interrupted step has applied nothing.
   */
  private valuesEvents(ns: readonly string[], chunk: unknown): EventPair[] {
    const key = ns.join("|");
    let data = chunk;
    if (isPayload(chunk) && Object.keys(chunk).length === 1 && "__interrupt__" in chunk) {
      const interrupts = chunk.__interrupt__;
      if (Array.isArray(interrupts) && interrupts.length === 0) return [];
      const last = this.lastValues.get(key);
      if (isPayload(last)) data = { ...last, __interrupt__: interrupts };
    } else {
      this.lastValues.set(key, chunk);
    }
    return [[eventName("values", ns), data]];
  }

  private messageEvents(ns: readonly string[], raw: unknown): EventPair[] {
    const events: EventPair[] = [];
    const chunk = Array.isArray(raw) && raw.length === 2 ? [raw[0], messageMetadata(raw[1])] : raw;
    if (this.plan.requested.has("messages-tuple")) events.push([eventName("messages", ns), chunk]);
    if (!this.plan.requested.has("messages") || !Array.isArray(chunk)) return events;
    const [message, metadata] = chunk as [unknown, unknown];
    if (!isMessage(message)) return events;
    const key = message.id ?? "";
    const known = this.messages.get(key);
    if (known === undefined) {
      this.messages.set(key, message);
      events.push([eventName("messages/metadata", ns), { [key]: { metadata } }]);
    } else if (isBaseMessageChunk(known) && isBaseMessageChunk(message)) {
      this.messages.set(key, (known as BaseMessageChunk).concat(message as BaseMessageChunk));
    } else {
      this.messages.set(key, message);
    }
    const name = isBaseMessageChunk(message) ? "messages/partial" : "messages/complete";
    events.push([eventName(name, ns), [completeMessageDict(messageToDict(this.messages.get(key)!))]]);
    return events;
  }
}

type Payload = Record<string, unknown>;

/**
 * A message chunk's metadata as Python LangGraph gives it: LangGraph.js adds `tags` (with its
 * internal `seq:step:*` ones) and the node's `name`; Python keeps user tags only, and the key
 * only when some remain, and no `name`.
 */
export function messageMetadata(metadata: unknown): unknown {
  if (!isPayload(metadata)) return metadata;
  const { tags, name, ...rest } = metadata;
  const shaped: Payload = rest;
  if (name !== undefined && name !== metadata.langgraph_node) shaped.name = name;
  const userTags = Array.isArray(tags) ? tags.filter((tag) => typeof tag !== "string" || !tag.startsWith("seq:step")) : tags;
  if (userTags !== undefined && !(Array.isArray(userTags) && userTags.length === 0)) shaped.tags = userTags;
  return shaped;
}

/** Checkpoint payloads in langgraph-api's shape: Python's key names, plus `checkpoint` and
 * `parent_checkpoint`; callbacks are not data. */
function preprocess(mode: string, chunk: unknown): unknown {
  if (mode === "checkpoints" && isPayload(chunk)) return withCheckpoints(chunk);
  if (mode === "debug" && isPayload(chunk) && chunk.type === "checkpoint" && isPayload(chunk.payload)) {
    return { ...chunk, payload: withCheckpoints(chunk.payload) };
  }
  return chunk;
}

export function withCheckpoints(payload: Payload): Payload {
  const { parentConfig, parent_config, ...rest } = payload;
  const config = cleanConfig(rest.config);
  const parent = cleanConfig(parent_config ?? parentConfig);
  const shaped: Payload = { ...rest, config, parent_config: parent ?? null };
  shaped.checkpoint = checkpointOf(config);
  shaped.parent_checkpoint = checkpointOf(parent);
  if (Array.isArray(payload.tasks)) shaped.tasks = payload.tasks.map(taskCheckpoint);
  return shaped;
}

function cleanConfig(config: unknown): Payload | undefined {
  if (!isPayload(config)) return undefined;
  const { callbacks: _callbacks, signal: _signal, ...rest } = config;
  return rest;
}

function taskCheckpoint(task: unknown): unknown {
  if (!isPayload(task) || !isPayload(task.state)) return task;
  const { state, ...rest } = task;
  return { ...rest, checkpoint: state.configurable ?? null };
}

function isPayload(value: unknown): value is Payload {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
