/**
 * LangGraph's Postgres checkpointer and store, shared by every run of this worker.
 *
 * The checkpoint tables are the ones the Python worker uses (LangGraph.js's migrations are a
 * prefix of Python's), so setup runs under the same advisory lock. LangGraph.js's store has a
 * different table layout from Python's `store`, so it lives in its own schema.
 */
import pg from "pg";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { Checkpoint, CheckpointMetadata } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { Logger } from "./log.js";
import type { Persistence } from "./loader.js";
import { LANGGRAPH_SETUP_LOCK } from "./generated/storage.js";

/** Shared with the Python worker ("aglwkr"): workers starting together would race on DDL. */
export const SETUP_LOCK_KEY = LANGGRAPH_SETUP_LOCK;
export const JS_STORE_SCHEMA = "langgraph_js";

/** Configurable keys that name a place in the thread, not the run (not copied to metadata). */
const NOT_METADATA = new Set(["checkpoint_id", "checkpoint_ns", "checkpoint_map"]);

/**
 * Python LangGraph records the run's config metadata (and scalar configurable values) on every
 * checkpoint; LangGraph.js does not. Resume-on-retry and rollback find a run's checkpoints by
 * `metadata.run_id`, and `/history` shows them, so this saver adds them.
 */
export class MeshPostgresSaver extends PostgresSaver {
  override async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: Record<string, string | number>,
  ): Promise<RunnableConfig> {
    return super.put(config, checkpoint, checkpointMetadata(config, metadata), newVersions);
  }
}

export function checkpointMetadata(config: RunnableConfig, metadata: CheckpointMetadata): CheckpointMetadata {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config.configurable ?? {})) {
    if (key.startsWith("__") || NOT_METADATA.has(key)) continue;
    if (["string", "number", "boolean"].includes(typeof value)) merged[key] = value;
  }
  // `ls_*` keys are LangSmith tracing tags LangGraph.js adds; Python's checkpoints lack them.
  for (const [key, value] of Object.entries(config.metadata ?? {})) {
    if (!key.startsWith("__") && !key.startsWith("ls_") && value !== undefined) merged[key] = value;
  }
  return { ...merged, ...metadata } as CheckpointMetadata;
}

export interface OpenPersistence extends Persistence {
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function openPersistence(databaseUrl: string, maxConnections: number, logger: Logger): Promise<OpenPersistence> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: Math.max(2, maxConnections) });
  pool.on("error", (error) => logger.warn("postgres pool error", error));
  const checkpointer = new MeshPostgresSaver(pool);
  const store = await openStore(databaseUrl, logger);
  await withSetupLock(pool, async () => {
    await checkpointer.setup();
    await store?.setup();
  });
  logger.debug("checkpointer and store tables are ready");
  return {
    pool,
    checkpointer,
    store,
    async close() {
      await store?.stop?.();
      await pool.end();
    },
  };
}

type JsStore = NonNullable<Persistence["store"]> & { setup(): Promise<void>; stop?(): Promise<void> };

async function openStore(databaseUrl: string, logger: Logger): Promise<JsStore | undefined> {
  try {
    const { PostgresStore } = await import("@langchain/langgraph-checkpoint-postgres/store");
    return new PostgresStore({ connectionOptions: databaseUrl, schema: JS_STORE_SCHEMA, ensureTables: false }) as unknown as JsStore;
  } catch (error) {
    logger.warn("PostgresStore is unavailable; graphs run without a store", error);
    return undefined;
  }
}

/** `setup()` of the checkpointer and the store, one worker (Python or JS) at a time. */
export async function withSetupLock(pool: pg.Pool, body: () => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [SETUP_LOCK_KEY]);
    try {
      await body();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [SETUP_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
