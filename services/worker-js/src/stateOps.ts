/**
 * Thread state operations answered for the API (`graphs.<graph_id>.state`): get, history,
 * update and bulk update, with results in langgraph-api's shapes.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  MESSAGE_TYPE,
  type BulkUpdateState,
  type CheckpointRef,
  type GetHistory,
  type GetState,
  type StateReply,
  type UpdateState,
} from "./generated/contracts.js";
import type { CompiledGraph, GraphSource, Persistence } from "./loader.js";
import { errorInfoOf, toJsonable } from "./serde.js";
import { toCommand } from "./stream.js";
import { checkpointOf, isSnapshot, threadState } from "./threadState.js";
import { checkMessage, MalformedMessage, parseJson } from "./wire.js";

export type StateRequest = GetState | GetHistory | UpdateState | BulkUpdateState;

/** Errors a client caused (as the Python worker classifies them): the API answers 400. */
const CLIENT_ERRORS = new Set(["InvalidUpdateError", "EmptyInputError", "TypeError", "RangeError"]);

export async function answerStateRequest(request: StateRequest, source: GraphSource, persistence: Persistence): Promise<StateReply> {
  try {
    const config = requestConfig(request.thread_id, request.config, "checkpoint" in request ? request.checkpoint : null);
    const graph = await source.build(config, persistence);
    const result = await perform(request, graph, config);
    return { type: MESSAGE_TYPE.StateReply, ok: true, thread_id: request.thread_id, result, status_code: 200 };
  } catch (error) {
    const info = errorInfoOf(error);
    return stateFailure(CLIENT_ERRORS.has(info.error) ? 400 : 500, info.error, info.message, request.thread_id);
  }
}

/** `threadId`: the thread asked about, which the API checks the answer names (null when the
 * request could not be read). */
export function stateFailure(statusCode: number, error: string, message: string, threadId: string | null = null): StateReply {
  return { type: MESSAGE_TYPE.StateReply, ok: false, thread_id: threadId, error: { error, message, retryable: false }, status_code: statusCode };
}

const STATE_REQUEST_KINDS = new Map<unknown, "GetState" | "GetHistory" | "UpdateState" | "BulkUpdateState">([
  [MESSAGE_TYPE.GetState, "GetState"],
  [MESSAGE_TYPE.GetHistory, "GetHistory"],
  [MESSAGE_TYPE.UpdateState, "UpdateState"],
  [MESSAGE_TYPE.BulkUpdateState, "BulkUpdateState"],
]);

/** The request in `data`, told apart by its `type` as Python's `STATE_REQUEST` union does;
 * throws `MalformedMessage`. */
export function decodeStateRequest(subject: string, data: Uint8Array): StateRequest {
  const payload = parseJson("state request", subject, data);
  const type = typeof payload === "object" && payload !== null ? (payload as { type?: unknown }).type : undefined;
  const kind = STATE_REQUEST_KINDS.get(type);
  if (kind === undefined) {
    throw new MalformedMessage(subject, "state request", `type ${JSON.stringify(type) ?? "missing"} is none of ${[...STATE_REQUEST_KINDS.keys()].join(", ")}`);
  }
  return checkMessage(kind, subject, payload);
}

async function perform(request: StateRequest, graph: CompiledGraph, config: RunnableConfig): Promise<unknown> {
  switch (request.type) {
    case MESSAGE_TYPE.GetState: {
      const snapshot = await graph.getState(config, { subgraphs: request.subgraphs ?? false });
      return isSnapshot(snapshot) ? threadState(snapshot) : null;
    }
    case MESSAGE_TYPE.GetHistory:
      return history(graph, config, request);
    case MESSAGE_TYPE.UpdateState: {
      const next = await graph.updateState(config, request.values ?? null, request.as_node ?? undefined);
      return checkpointResult(next);
    }
    case MESSAGE_TYPE.BulkUpdateState: {
      const supersteps = request.supersteps.map((superstep) => ({
        updates: superstep.map((update) => ({
          values: isRecord(update.command) ? toCommand(update.command) : (update.values ?? null),
          asNode: typeof update.as_node === "string" ? update.as_node : undefined,
        })),
      }));
      const next = await graph.bulkUpdateState(config, supersteps);
      return checkpointResult(next);
    }
    default:
      throw new TypeError("unknown state request");
  }
}

async function history(graph: CompiledGraph, config: RunnableConfig, request: GetHistory): Promise<unknown[]> {
  const limit = request.limit ?? 10;
  const options: Record<string, unknown> = { limit };
  if (request.before?.checkpoint_id) {
    options.before = { configurable: { thread_id: request.thread_id, checkpoint_ns: request.before.checkpoint_ns ?? "", checkpoint_id: request.before.checkpoint_id } };
  }
  if (request.metadata && Object.keys(request.metadata).length) options.filter = request.metadata;
  const states: unknown[] = [];
  for await (const snapshot of graph.getStateHistory(config, options)) {
    if (isSnapshot(snapshot)) states.push(threadState(snapshot));
    if (states.length >= limit) break;
  }
  return states;
}

function checkpointResult(config: RunnableConfig): { checkpoint: unknown } {
  const checkpoint = checkpointOf(config) ?? { ...(config.configurable ?? {}) };
  checkpoint.checkpoint_map ??= null;
  return { checkpoint: toJsonable(checkpoint) };
}

/** The request's config aimed at its thread and, when given, one checkpoint. */
export function requestConfig(threadId: string, base: Record<string, unknown> | undefined, checkpoint: CheckpointRef | null | undefined): RunnableConfig {
  const configurable: Record<string, unknown> = { ...((base?.configurable as Record<string, unknown> | undefined) ?? {}), thread_id: threadId };
  configurable.checkpoint_ns ??= "";
  if (checkpoint) {
    configurable.checkpoint_ns = checkpoint.checkpoint_ns ?? "";
    if (checkpoint.checkpoint_id) configurable.checkpoint_id = checkpoint.checkpoint_id;
    if (checkpoint.checkpoint_map) configurable.checkpoint_map = checkpoint.checkpoint_map;
  }
  return { ...(base ?? {}), configurable } as RunnableConfig;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
