/**
 * What a worker tells the registry about each graph it serves: JSON Schemas, the drawable graph
 * per xray depth and the schemas of nested graphs, so the API answers `/schemas`, `/graph` and
 * `/subgraphs` with no worker alive.
 *
 * Graphs whose state is a zod schema get full JSON Schemas (LangGraph.js's own extractor);
 * `Annotation.Root` states carry no types at run time, so theirs list the channel names only.
 */
import type { GraphInfo, GraphSchemas } from "./generated/contracts.js";
import type { CompiledGraph, GraphSource } from "./loader.js";
import type { Logger } from "./log.js";
import { toJsonable } from "./serde.js";

type JsonObject = Record<string, unknown>;

interface ZodSchemaReaders {
  getInputTypeSchema(graph: unknown): unknown;
  getOutputTypeSchema(graph: unknown): unknown;
  getStateTypeSchema(graph: unknown): unknown;
  getConfigTypeSchema(graph: unknown): unknown;
}

let zodReaders: Promise<ZodSchemaReaders | null> | undefined;

function loadZodReaders(): Promise<ZodSchemaReaders | null> {
  // Optional: needs zod, which only graphs declaring zod states have installed.
  zodReaders ??= import("@langchain/langgraph/zod/schema").then(
    (module) => module as unknown as ZodSchemaReaders,
    () => null,
  );
  return zodReaders;
}

export async function describeGraph(source: GraphSource, logger: Logger): Promise<GraphInfo> {
  const info: GraphInfo = { graph_id: source.graphId, name: null, description: source.description, schemas: {}, drawable: {}, subgraphs: {} };
  let graph: CompiledGraph;
  try {
    graph = await source.build({ configurable: {} });
  } catch (error) {
    logger.warn(`graph ${source.graphId}: cannot be built without a run's config, registering it undescribed`, error);
    return info;
  }
  info.name = graph.name ?? source.graphId;
  info.schemas = await graphSchemas(graph);
  const subgraphs = await listSubgraphs(graph, source.graphId, logger);
  const depth = Math.max(0, ...[...subgraphs.keys()].map((namespace) => namespace.split("|").length));
  info.drawable = await drawables(graph, depth, source.graphId, logger);
  info.subgraphs = {};
  for (const [namespace, subgraph] of subgraphs) info.subgraphs[namespace] = await graphSchemas(subgraph);
  return info;
}

export async function graphSchemas(graph: CompiledGraph): Promise<GraphSchemas> {
  const readers = await loadZodReaders();
  const read = (reader: keyof ZodSchemaReaders): JsonObject | null => {
    if (readers === null) return null;
    try {
      const schema = readers[reader](graph);
      return isObject(schema) ? (toJsonable(schema) as JsonObject) : null;
    } catch {
      return null;
    }
  };
  const fallback = channelSchema(graph);
  return {
    input_schema: read("getInputTypeSchema") ?? fallback,
    output_schema: read("getOutputTypeSchema") ?? fallback,
    state_schema: read("getStateTypeSchema") ?? fallback,
    config_schema: read("getConfigTypeSchema"),
    context_schema: null,
  };
}

/** `{type: object, properties: {<channel>: {}}}` from the builder's state channels. */
export function channelSchema(graph: CompiledGraph): JsonObject | null {
  const builder = (graph as unknown as { builder?: { channels?: unknown } }).builder;
  if (!isObject(builder?.channels)) return null;
  const names = Object.keys(builder.channels).filter((name) => !name.startsWith("__") && !name.includes(":"));
  return {
    title: graph.name ?? "LangGraph",
    type: "object",
    properties: Object.fromEntries(names.map((name) => [name, {}])),
  };
}

/** Drawable graphs keyed `"0"` ... `"<depth>"`: one per xray depth down to the deepest
 * subgraph (the Python worker's keys). */
export async function drawables(graph: CompiledGraph, depth: number, graphId: string, logger: Logger): Promise<Record<string, JsonObject>> {
  const found: Record<string, JsonObject> = {};
  for (let xray = 0; xray <= depth; xray += 1) {
    try {
      const drawable = await graph.getGraphAsync(xray === 0 ? {} : { xray });
      found[String(xray)] = pythonDrawable(toJsonable(drawable.toJSON()) as JsonObject);
    } catch (error) {
      logger.warn(`graph ${graphId} cannot be drawn at xray ${xray}`, error);
    }
  }
  return found;
}

/** LangChain.js's drawable graph as LangChain's Python `Graph.to_json()` writes it: an edge
 * says `conditional` only when it is, a node has `metadata` only when it has some. */
export function pythonDrawable(drawable: JsonObject): JsonObject {
  const edges = Array.isArray(drawable.edges) ? drawable.edges : [];
  const nodes = Array.isArray(drawable.nodes) ? drawable.nodes : [];
  return {
    ...drawable,
    nodes: nodes.map((node) => {
      if (!isObject(node) || !isObject(node.metadata) || Object.keys(node.metadata).length) return node;
      const { metadata: _empty, ...rest } = node;
      return rest;
    }),
    edges: edges.map((edge) => {
      if (!isObject(edge) || edge.conditional !== false) return edge;
      const { conditional: _no, ...rest } = edge;
      return rest;
    }),
  };
}

/** Nested graphs keyed by namespace (`"parent|child"`), recursively. */
export async function listSubgraphs(graph: CompiledGraph, graphId: string, logger: Logger): Promise<Map<string, CompiledGraph>> {
  const found = new Map<string, CompiledGraph>();
  try {
    for await (const [namespace, subgraph] of graph.getSubgraphsAsync(undefined, true)) found.set(namespace, subgraph);
  } catch (error) {
    logger.warn(`graph ${graphId}: cannot list its subgraphs`, error);
  }
  return found;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
