/** Running a graph for a dispatch and producing its events in langgraph-api's naming. */
import { Command, Send } from "@langchain/langgraph";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { RunDispatch, RunKwargs } from "./generated/contracts.js";
import type { CompiledGraph } from "./loader.js";
import { ChunkTranslator, planStream, type EventPair, type StreamPlan } from "./translate.js";

const HIDDEN_TAG = "langsmith:hidden";

/** langgraph-api configs are Python-spelled; LangGraph.js reads camelCase. */
const CONFIG_KEYS: Record<string, string> = {
  recursion_limit: "recursionLimit",
  max_concurrency: "maxConcurrency",
  run_name: "runName",
};

type Configurable = Record<string, unknown>;

/**
 * The run's config: the API's merged config, the ids LangGraph needs, and the run id in
 * `metadata` so every checkpoint the run writes records it (resume and rollback find the
 * run's checkpoints by it).
 */
export function runConfig(dispatch: RunDispatch): RunnableConfig {
  const params = dispatch.params;
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(structuredClone(params.config ?? {}))) {
    config[CONFIG_KEYS[key] ?? key] = value;
  }
  const configurable: Configurable = { ...((config.configurable as Configurable | undefined) ?? {}) };
  configurable.thread_id ??= dispatch.thread_id;
  configurable.run_id ??= dispatch.run_id;
  configurable.graph_id ??= dispatch.graph_id;
  configurable.assistant_id ??= dispatch.assistant_id;
  const metadata: Record<string, unknown> = { ...((config.metadata as Record<string, unknown> | undefined) ?? {}) };
  metadata.run_id = dispatch.run_id;
  metadata.thread_id ??= dispatch.thread_id;
  metadata.graph_id ??= dispatch.graph_id;
  metadata.assistant_id ??= dispatch.assistant_id;
  metadata.run_attempt = dispatch.attempt;
  const checkpoint = params.checkpoint;
  if (checkpoint?.checkpoint_id) {
    configurable.checkpoint_id = checkpoint.checkpoint_id;
    configurable.checkpoint_ns = checkpoint.checkpoint_ns ?? "";
    if (checkpoint.checkpoint_map) configurable.checkpoint_map = checkpoint.checkpoint_map;
  }
  // The root of `streamEvents` then carries the run's id, as in langgraph-api.
  if (isUuid(dispatch.run_id)) config.runId = dispatch.run_id;
  return { ...config, configurable, metadata } as RunnableConfig;
}

/** The config continuing from the thread's latest checkpoint (a retried attempt). */
export function withoutFork(config: RunnableConfig): RunnableConfig {
  const { checkpoint_id: _id, checkpoint_map: _map, ...configurable } = config.configurable ?? {};
  return { ...config, configurable: { ...configurable, checkpoint_ns: "" } };
}

/** A `Command` when the run carries one, else its input. */
export function runInput(params: RunKwargs): unknown {
  if (params.command && Object.keys(params.command).length) return toCommand(params.command);
  return params.input ?? null;
}

/** `{resume, update, goto}` as LangGraph's `Command`; `goto` may be a node name, a
 * `{node, input}` Send, or a list of either. */
export function toCommand(command: Record<string, unknown>): Command {
  const fields: Record<string, unknown> = {};
  if (command.resume !== undefined && command.resume !== null) fields.resume = command.resume;
  if (command.update !== undefined && command.update !== null) fields.update = command.update;
  const goto = command.goto;
  if (goto !== undefined && goto !== null) {
    const targets = (Array.isArray(goto) ? goto : [goto]).map(gotoTarget);
    if (targets.length) fields.goto = targets;
  }
  return new Command(fields as ConstructorParameters<typeof Command>[0]);
}

function gotoTarget(target: unknown): string | Send {
  if (typeof target === "object" && target !== null) {
    const send = target as { node: string; input?: unknown };
    return new Send(send.node, send.input ?? null);
  }
  return String(target);
}

export function streamOptions(params: RunKwargs, plan: StreamPlan, signal?: AbortSignal): Record<string, unknown> {
  const options: Record<string, unknown> = {
    streamMode: plan.graphModes,
    subgraphs: plan.subgraphs,
    durability: params.durability ?? "async",
  };
  if (params.context && Object.keys(params.context).length) options.context = params.context;
  if (params.interrupt_before != null) options.interruptBefore = params.interrupt_before;
  if (params.interrupt_after != null) options.interruptAfter = params.interrupt_after;
  if (signal !== undefined) options.signal = signal;
  return options;
}

/** Run the graph and yield `(event name, data)` pairs in the order LangGraph emits them. */
export async function* graphEvents(
  graph: CompiledGraph,
  input: unknown,
  config: RunnableConfig,
  params: RunKwargs,
  signal?: AbortSignal,
): AsyncGenerator<EventPair> {
  const plan = planStream(params.stream_mode, params.subgraphs ?? false);
  const translator = new ChunkTranslator(plan);
  const options = { ...config, ...streamOptions(params, plan, signal) };
  const chunks = plan.useEvents ? fromStreamEvents(graph, input, options, plan) : fromStream(graph, input, options, plan);
  for await (const [namespace, mode, chunk] of chunks) {
    yield* translator.translate(namespace, mode, chunk);
  }
}

type Chunk = [namespace: string[], mode: string, chunk: unknown];

async function* fromStream(graph: CompiledGraph, input: unknown, options: Record<string, unknown>, plan: StreamPlan): AsyncGenerator<Chunk> {
  for await (const item of await graph.stream(input, options)) yield split(item, plan.subgraphs);
}

interface StreamEvent {
  event: string;
  run_id: string;
  tags?: string[];
  parent_ids?: string[];
  data?: { chunk?: unknown };
}

/** `events` mode: every callback event is sent as `events`; the root graph's own stream chunks
 * carry the other requested modes (langgraph-api does the same). */
async function* fromStreamEvents(graph: CompiledGraph, input: unknown, options: Record<string, unknown>, plan: StreamPlan): AsyncGenerator<Chunk> {
  let rootRunId: string | undefined;
  for await (const raw of graph.streamEvents(input, { ...options, version: "v2" })) {
    const event = raw as StreamEvent;
    // The root's on_chain_start comes first; LangGraph.js leaves `parent_ids` unset.
    rootRunId ??= event.run_id;
    if (event.tags?.includes(HIDDEN_TAG)) continue;
    if (event.event === "on_chain_stream" && event.run_id === rootRunId) {
      yield split(event.data?.chunk, plan.subgraphs);
    } else {
      yield [[], "events", { ...event, parent_ids: event.parent_ids ?? [] }];
    }
  }
}

function split(item: unknown, subgraphs: boolean): Chunk {
  const parts = item as unknown[];
  if (subgraphs) return [[...(parts[0] as string[])], parts[1] as string, parts[2]];
  return [[], parts[0] as string, parts[1]];
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
