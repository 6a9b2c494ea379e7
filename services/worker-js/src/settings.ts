/** The worker's settings, read once by the entry point (env and CLI flags) and passed down. */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { isToken } from "./subjects.js";
import { parseLevel, type LogLevel } from "./log.js";

export interface WorkerSettings {
  natsUrl: string;
  databaseUrl: string;
  /** The `langgraph.json` naming the graphs to serve. */
  config: string;
  /** Runs held at once; dispatches beyond it are refused. */
  capacity: number;
  workerId: string;
  /** How long a draining worker lets its runs finish before handing them back. */
  drainGraceSeconds: number;
  runTimeoutSeconds: number;
  logLevel: LogLevel;
  /** Where the health probes are served (`health.ts`); undefined: not served. */
  healthPort: number | undefined;
  healthHost: string;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

/** `js-<host>-<8 hex>`: unique per process and usable as one NATS subject token. */
export function newWorkerId(host: string = hostname()): string {
  const cleaned = host.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 32) || "host";
  return `js-${cleaned}-${randomBytes(4).toString("hex")}`;
}

export const USAGE = `usage: agentlist-worker [--config langgraph.json] [--capacity N] [--worker-id ID]

Serves the graphs of a langgraph.json to the AgentList mesh.
Environment: NATS_URL, DATABASE_URL, AGENTLIST_WORKER_CONFIG, AGENTLIST_WORKER_CAPACITY, AGENTLIST_WORKER_ID,
AGENTLIST_WORKER_DRAIN_GRACE_SECONDS, AGENTLIST_WORKER_RUN_TIMEOUT_SECONDS, AGENTLIST_LOG_LEVEL,
AGENTLIST_WORKER_HEALTH_PORT, AGENTLIST_WORKER_HEALTH_HOST.`;

function numberSetting(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new SettingsError(`${name} must be a number >= ${min}, not ${JSON.stringify(raw)}`);
  return value;
}

export function readSettings(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): WorkerSettings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      config: { type: "string" },
      capacity: { type: "string" },
      "worker-id": { type: "string" },
    },
    strict: true,
  });
  const workerId = values["worker-id"] ?? env.AGENTLIST_WORKER_ID ?? newWorkerId();
  if (!isToken(workerId)) throw new SettingsError(`worker id ${JSON.stringify(workerId)}: use letters, digits, _ and -`);
  const capacity = numberSetting("AGENTLIST_WORKER_CAPACITY", values.capacity ?? env.AGENTLIST_WORKER_CAPACITY, 10, 1);
  if (!Number.isInteger(capacity)) throw new SettingsError("AGENTLIST_WORKER_CAPACITY must be an integer");
  return {
    natsUrl: env.NATS_URL || "nats://127.0.0.1:4222",
    databaseUrl: env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres",
    config: values.config ?? env.AGENTLIST_WORKER_CONFIG ?? "langgraph.json",
    capacity,
    workerId,
    drainGraceSeconds: numberSetting("AGENTLIST_WORKER_DRAIN_GRACE_SECONDS", env.AGENTLIST_WORKER_DRAIN_GRACE_SECONDS, 30, 0),
    runTimeoutSeconds: numberSetting("AGENTLIST_WORKER_RUN_TIMEOUT_SECONDS", env.AGENTLIST_WORKER_RUN_TIMEOUT_SECONDS, 3600, 0.001),
    logLevel: parseLevel(env.AGENTLIST_LOG_LEVEL),
    healthPort: healthPort(env.AGENTLIST_WORKER_HEALTH_PORT),
    healthHost: env.AGENTLIST_WORKER_HEALTH_HOST || "127.0.0.1",
  };
}

function healthPort(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const port = numberSetting("AGENTLIST_WORKER_HEALTH_PORT", raw, 0, 0);
  if (!Number.isInteger(port) || port > 65535) throw new SettingsError("AGENTLIST_WORKER_HEALTH_PORT must be a port number");
  return port;
}
