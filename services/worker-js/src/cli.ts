/**
 * `agentlist-worker --config langgraph.json`: serve a langgraph.json's graphs to the mesh until
 * SIGTERM (or a drain request), then drain and exit.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { applyEnvironment, ConfigError, readConfig } from "./config.js";
import { describeGraph } from "./describe.js";
import { serveHealth } from "./health.js";
import { loadGraphs } from "./loader.js";
import { createLogger, type Logger } from "./log.js";
import { openPersistence } from "./persistence.js";
import { readSettings, SettingsError, USAGE, type WorkerSettings } from "./settings.js";
import * as subjects from "./subjects.js";
import { Worker } from "./worker.js";

export async function runWorker(settings: WorkerSettings, logger: Logger): Promise<void> {
  // Served from the start, so that a worker still loading or waiting for NATS is alive, not ready.
  let ready = () => false;
  const probes =
    settings.healthPort === undefined
      ? undefined
      : await serveHealth(settings.healthHost, settings.healthPort, () => ready());
  try {
    await serveMesh(settings, logger, (check) => (ready = check));
  } finally {
    probes?.close();
  }
}

async function serveMesh(settings: WorkerSettings, logger: Logger, setReadiness: (ready: () => boolean) => void): Promise<void> {
  const config = readConfig(settings.config);
  applyEnvironment(config);
  const sources = await loadGraphs(config);
  const graphs = await Promise.all([...sources.values()].map((source) => describeGraph(source, logger)));
  const persistence = await openPersistence(settings.databaseUrl, settings.capacity + 2, logger);
  const nc = await connectNats(settings, logger);
  const worker = new Worker(
    {
      workerId: settings.workerId,
      team: subjects.teamOfUser(natsIdentity(settings.natsUrl).user),
      capacity: settings.capacity,
      drainGraceSeconds: settings.drainGraceSeconds,
      runTimeoutSeconds: settings.runTimeoutSeconds,
    },
    { nc, js: jetstream(nc), sources, graphs, persistence, logger },
  );
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info(`${signal}: draining`);
    // Before registration there is nothing to drain.
    if (worker.registered) void worker.drain(signal);
    else void worker.close();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  setReadiness(() => worker.registered && !worker.draining && !nc.isClosed());
  try {
    if (await worker.start()) await worker.finished;
  } finally {
    await worker.close();
    await nc.drain().catch(() => nc.close());
    await persistence.close();
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  logger.info("stopped");
}

/** `nats://user:password@host:port` as nats.js takes it: the server apart from the user, who
 * reads replies under an inbox prefix of its own (contracts' `access.inbox_prefix`), the only
 * one the server lets it subscribe to. */
export function natsIdentity(natsUrl: string): {
  servers: string;
  user?: string;
  pass?: string;
  inboxPrefix: string;
} {
  const url = new URL(natsUrl);
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  const servers = `${url.protocol}//${url.host}`;
  if (!user) return { servers, inboxPrefix: "_INBOX" };
  return { servers, user, pass, inboxPrefix: `_INBOX_${user}` };
}

/** Whether a nats-server `version` is older than the mesh's floor (contracts'
 * `subjects.NATS_SERVER_FLOOR`). */
export function belowFloor(version: string): boolean {
  const parts = (text: string) => text.split(/[.-]/).slice(0, 3).map((part) => Number.parseInt(part, 10) || 0);
  const [have, floor] = [parts(version), parts(subjects.NATS_SERVER_FLOOR)];
  for (let i = 0; i < 3; i += 1) {
    if (have[i] !== floor[i]) return have[i]! < floor[i]!;
  }
  return false;
}

/** Connect and keep reconnecting for ever: a restarted NATS server is a normal event. */
async function connectNats(settings: WorkerSettings, logger: Logger): Promise<NatsConnection> {
  const nc = await connect({
    ...natsIdentity(settings.natsUrl),
    name: `agentlist-worker-js-${settings.workerId}`,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: 2_000,
    waitOnFirstConnect: true,
  });
  const version = nc.info?.version ?? "0.0.0";
  if (belowFloor(version)) {
    await nc.close();
    throw new SettingsError(`the NATS server is version ${version}, older than ${subjects.NATS_SERVER_FLOOR}, which AgentList needs`);
  }
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") logger.warn("nats disconnected");
      else if (status.type === "reconnect") logger.info("nats reconnected");
      else if (status.type === "error") logger.warn(`nats error: ${JSON.stringify(status)}`);
    }
  })();
  return nc;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let settings: WorkerSettings;
  try {
    settings = readSettings(argv);
  } catch (error) {
    process.stderr.write(`agentlist-worker: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const logger = createLogger(settings.logLevel);
  try {
    await runWorker(settings, logger);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SettingsError) logger.error(error.message);
    else logger.error("worker failed", error);
    return 1;
  }
}
