/**
 * Reading a `langgraph.json`: which graphs to serve, from where, with which environment.
 *
 *   {"node_version": "20", "graphs": {"agent": "./src/agent.ts:graph"}, "env": ".env"}
 *
 * A graph entry is `"<file>:<export>"` or `{"path": ..., "description": ...}`; paths are
 * relative to the file's folder. Keys this runtime does not use are ignored.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { isToken } from "./subjects.js";

export class ConfigError extends Error {
  override name = "ConfigError";
}

export interface GraphEntry {
  graphId: string;
  /** Absolute path of the module file. */
  file: string;
  /** The export holding the graph; dots reach into nested objects. */
  exportName: string;
  description: string | null;
}

export interface GraphsConfig {
  folder: string;
  graphs: GraphEntry[];
  env: Record<string, string>;
}

export function readConfig(configPath: string): GraphsConfig {
  const file = path.resolve(configPath);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return parseConfig(raw, file);
}

export function parseConfig(raw: unknown, file: string): GraphsConfig {
  if (!isRecord(raw) || !isRecord(raw.graphs)) {
    throw new ConfigError(`${file}: expected an object with a 'graphs' object`);
  }
  const folder = path.dirname(file);
  const graphs = Object.entries(raw.graphs).map(([graphId, spec]) => graphEntry(graphId, spec, folder, file));
  return { folder, graphs, env: readEnv(raw.env, folder) };
}

function graphEntry(graphId: string, spec: unknown, folder: string, file: string): GraphEntry {
  if (!isToken(graphId)) {
    throw new ConfigError(`${file}: graph id ${JSON.stringify(graphId)} cannot be a NATS subject token: use letters, digits, _ and -`);
  }
  let description: string | null = null;
  let target = spec;
  if (isRecord(spec)) {
    description = typeof spec.description === "string" ? spec.description : null;
    target = spec.path;
  }
  if (typeof target !== "string" || !target.includes(":")) {
    throw new ConfigError(`${file}: graph ${JSON.stringify(graphId)} must be '<file>:<export>'`);
  }
  const at = target.lastIndexOf(":");
  const modulePath = target.slice(0, at);
  const exportName = target.slice(at + 1) || "default";
  return { graphId, file: path.resolve(folder, modulePath), exportName, description };
}

function readEnv(env: unknown, folder: string): Record<string, string> {
  if (env === undefined || env === null) return {};
  if (isRecord(env)) return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value)]));
  if (typeof env === "string") {
    const envFile = path.resolve(folder, env);
    try {
      return parseDotenv(readFileSync(envFile, "utf8"));
    } catch (error) {
      throw new ConfigError(`cannot read env file ${envFile}: ${(error as Error).message}`);
    }
  }
  throw new ConfigError("'env' must be an object or the path of a .env file");
}

/** `KEY=value` lines; `#` comments, `export` prefixes and matching quotes allowed. */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#") || !line.includes("=")) continue;
    const body = line.startsWith("export ") ? line.slice("export ".length) : line;
    const at = body.indexOf("=");
    const key = body.slice(0, at).trim();
    let value = body.slice(at + 1).trim();
    if (value.length >= 2 && value[0] === value.at(-1) && (value[0] === "'" || value[0] === '"')) {
      value = value.slice(1, -1);
    } else if (value.includes(" #")) {
      value = value.slice(0, value.indexOf(" #")).trimEnd();
    }
    values[key] = value;
  }
  return values;
}

/** Export the config's `env` before any graph module is imported; an operator's own
 * environment wins. */
export function applyEnvironment(config: GraphsConfig, env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(config.env)) {
    if (env[key] === undefined) env[key] = value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
