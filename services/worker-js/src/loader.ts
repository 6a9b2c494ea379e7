/**
 * Turning a `langgraph.json` entry into a graph the worker can run.
 *
 * The export may be a compiled graph, an uncompiled `StateGraph`, or a factory (sync or async,
 * taking the run's config) returning either. Factories are called for each run with that run's
 * config, as langgraph-api does. TypeScript graph files need no build step: the entry point
 * registers tsx before anything is imported.
 */
import { pathToFileURL } from "node:url";
import { existsSync } from "node:fs";
import type { BaseCheckpointSaver, BaseStore } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ConfigError, type GraphEntry, type GraphsConfig } from "./config.js";

/** The part of a compiled LangGraph.js graph (`Pregel`) the worker uses. */
export type CompiledGraph = {
  name?: string;
  checkpointer?: unknown;
  store?: unknown;
  stream(input: unknown, options?: Record<string, unknown>): Promise<AsyncIterable<unknown>>;
  streamEvents(input: unknown, options: Record<string, unknown>): AsyncIterable<unknown>;
  getState(config: RunnableConfig, options?: { subgraphs?: boolean }): Promise<unknown>;
  getStateHistory(config: RunnableConfig, options?: Record<string, unknown>): AsyncIterable<unknown>;
  updateState(config: RunnableConfig, values: unknown, asNode?: string): Promise<RunnableConfig>;
  bulkUpdateState(config: RunnableConfig, supersteps: unknown[]): Promise<RunnableConfig>;
  getGraphAsync(config?: Record<string, unknown>): Promise<{ toJSON(): unknown }>;
  getSubgraphsAsync(namespace?: string, recurse?: boolean): AsyncIterable<[string, CompiledGraph]>;
};

type Factory = (config: RunnableConfig) => unknown;

const DEFAULT_NAME = "LangGraph";

export interface Persistence {
  checkpointer: BaseCheckpointSaver;
  store?: BaseStore;
}

export class GraphSource {
  constructor(
    readonly graphId: string,
    readonly description: string | null,
    private readonly compiled: CompiledGraph | null,
    private readonly factory: Factory | null,
  ) {}

  /** The graph to run with `config`, wired to this worker's checkpointer and store (replacing
   * whatever the user compiled it with, as langgraph-api does). */
  async build(config: RunnableConfig, persistence?: Persistence): Promise<CompiledGraph> {
    const graph = this.compiled ?? asCompiled(await this.factory!(config), `graph factory ${this.graphId}`);
    if (persistence !== undefined) {
      graph.checkpointer = persistence.checkpointer;
      graph.store = persistence.store;
    }
    if (!graph.name || graph.name === DEFAULT_NAME) graph.name = this.graphId;
    return graph;
  }
}

export async function loadGraphs(config: GraphsConfig): Promise<Map<string, GraphSource>> {
  const sources = new Map<string, GraphSource>();
  for (const entry of config.graphs) sources.set(entry.graphId, await loadGraph(entry));
  return sources;
}

export async function loadGraph(entry: GraphEntry): Promise<GraphSource> {
  if (!existsSync(entry.file)) throw new ConfigError(`graph file ${entry.file} does not exist`);
  const module: unknown = await import(pathToFileURL(entry.file).href);
  let target: unknown = module;
  for (const part of entry.exportName.split(".")) {
    target = isObjectLike(target) ? (target as Record<string, unknown>)[part] : undefined;
  }
  if (target === undefined) {
    throw new ConfigError(`graph ${JSON.stringify(entry.graphId)}: ${entry.file} has no export ${JSON.stringify(entry.exportName)}`);
  }
  if (isCompiled(target) || isBuilder(target)) {
    return new GraphSource(entry.graphId, entry.description, asCompiled(target, entry.graphId), null);
  }
  if (typeof target === "function") {
    return new GraphSource(entry.graphId, entry.description, null, target as Factory);
  }
  throw new ConfigError(`graph ${JSON.stringify(entry.graphId)}: ${entry.exportName} is not a graph or a function returning one`);
}

export function isCompiled(value: unknown): value is CompiledGraph {
  return isObjectLike(value) && typeof (value as CompiledGraph).stream === "function" && typeof (value as CompiledGraph).getState === "function";
}

function isBuilder(value: unknown): value is { compile(): unknown } {
  return isObjectLike(value) && typeof (value as { compile?: unknown }).compile === "function" && !isCompiled(value);
}

function asCompiled(value: unknown, what: string): CompiledGraph {
  const graph = isBuilder(value) ? value.compile() : value;
  if (!isCompiled(graph)) throw new ConfigError(`${what} is not a graph`);
  return graph;
}

function isObjectLike(value: unknown): boolean {
  return (typeof value === "object" || typeof value === "function") && value !== null;
}
