/**
 * LangGraph's Postgres checkpointer and store, shared by every run of this worker.
 *
 * The checkpoint tables are the ones the Python worker uses (LangGraph.js's migrations are a
 * prefix of Python's), so setup runs under the same advisory lock. The store is Python's
 * `store` table too (`MeshStore`), so JS graphs, Python graphs and `/store` share items.
 */
import pg from "pg";
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres";
import type { Checkpoint, CheckpointMetadata, PendingWrite } from "@langchain/langgraph-checkpoint";
import type { RunnableConfig } from "@langchain/core/runnables";
import type { Logger } from "./log.js";
import type { Persistence } from "./loader.js";
import { LANGGRAPH_SETUP_LOCK } from "./generated/storage.js";
import { STORE_MIGRATIONS } from "./generated/migrations.js";
import { MeshStore } from "./store.js";

/** Shared with the Python worker ("aglwkr"): workers starting together would race on DDL. */
export const SETUP_LOCK_KEY = LANGGRAPH_SETUP_LOCK;

/** Keys never copied from the run's config to checkpoint metadata (Python LangGraph's
 * `EXCLUDED_METADATA_KEYS`). */
const EXCLUDED_METADATA_KEYS = new Set([
  "thread_id",
  "checkpoint_id",
  "checkpoint_ns",
  "checkpoint_map",
  "langgraph_step",
  "langgraph_node",
  "langgraph_triggers",
  "langgraph_path",
  "langgraph_checkpoint_ns",
]);

/**
 * Python LangGraph records the run's config metadata and configurable values on every
 * checkpoint; LangGraph.js does not. Resume-on-retry and rollback find a run's checkpoints by
 * `metadata.run_id`, and `/history` shows them, so this saver adds them.
 */
export class MeshPostgresSaver extends PostgresSaver {
  /** Writes under way, by thread: a stopped graph may still be saving (LangGraph.js saves in
   * the background), and a rollback must delete after those saves, not before them. */
  private readonly inFlight = new Map<string, Set<Promise<unknown>>>();

  override async put(
    config: RunnableConfig,
    checkpoint: Checkpoint,
    metadata: CheckpointMetadata,
    newVersions: Record<string, string | number>,
  ): Promise<RunnableConfig> {
    return this.track(config, super.put(config, checkpoint, checkpointMetadata(config, metadata), newVersions));
  }

  override async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string): Promise<void> {
    return this.track(config, super.putWrites(config, writes, taskId));
  }

  /** Resolves once every write to `threadId` started so far has finished (or failed). */
  async settled(threadId: string): Promise<void> {
    const pending = this.inFlight.get(threadId);
    if (pending?.size) await Promise.allSettled([...pending]);
  }

  private async track<T>(config: RunnableConfig, write: Promise<T>): Promise<T> {
    const threadId = String(config.configurable?.thread_id ?? "");
    const pending = this.inFlight.get(threadId) ?? new Set<Promise<unknown>>();
    this.inFlight.set(threadId, pending);
    pending.add(write);
    try {
      return await write;
    } finally {
      pending.delete(write);
      if (pending.size === 0) this.inFlight.delete(threadId);
    }
  }
}

/** Python's `get_checkpoint_metadata`: the graph's own metadata, then the scalar values of the
 * config's `metadata` and `configurable` (the first to name a key wins), minus excluded and
 * `__` keys. `ls_*` keys are LangSmith tracing tags LangGraph.js adds; Python's lack them. */
export function checkpointMetadata(config: RunnableConfig, metadata: CheckpointMetadata): CheckpointMetadata {
  const merged: Record<string, unknown> = { ...metadata };
  for (const source of [config.metadata, config.configurable]) {
    for (const [key, value] of Object.entries(source ?? {})) {
      if (key in merged || EXCLUDED_METADATA_KEYS.has(key) || key.startsWith("__") || key.startsWith("ls_")) continue;
      if (typeof value === "string") merged[key] = value.replaceAll("\u0000", "");
      else if (typeof value === "number" || typeof value === "boolean") merged[key] = value;
    }
  }
  return merged as CheckpointMetadata;
}

export interface OpenPersistence extends Persistence {
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function openPersistence(databaseUrl: string, maxConnections: number, logger: Logger): Promise<OpenPersistence> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: Math.max(2, maxConnections) });
  pool.on("error", (error) => logger.warn("postgres pool error", error));
  // The pool listens for errors of idle clients only: one checked out between two queries
  // when the server goes away would otherwise throw an unhandled 'error' and end the process.
  // Its next query fails instead, and the run that made it is handed back.
  pool.on("connect", (client) => client.on("error", (error) => logger.warn("postgres connection lost", error)));
  const checkpointer = new MeshPostgresSaver(pool);
  const store = new MeshStore(pool);
  if (await mayCreateTables(pool)) {
    await withSetupLock(pool, async () => {
      await checkpointer.setup();
      await store.setup();
    });
  } else {
    await requireSetUp(pool);
  }
  logger.debug("checkpointer and store tables are ready");
  return {
    pool,
    checkpointer,
    store,
    async close() {
      await pool.end();
    },
  };
}

/** `setup()` creates the schema and its migrations' table "if not exists", which Postgres
 * refuses to a role without CREATE even when they exist: the worker's own role (`agentlist
 * migrate`, run by the owner, sets the tables up) only checks they are there. */
async function mayCreateTables(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ may: boolean }>(
    "SELECT has_schema_privilege(current_schema(), 'CREATE') AS may",
  );
  return rows[0]?.may === true;
}

async function requireSetUp(pool: pg.Pool): Promise<void> {
  const exist = await pool.query<{ ready: boolean }>(
    "SELECT to_regclass('checkpoint_migrations') IS NOT NULL AND to_regclass('store_migrations') IS NOT NULL AS ready",
  );
  if (exist.rows[0]?.ready) {
    const { rows } = await pool.query<{ checkpoints: number | null; store: number | null }>(
      "SELECT (SELECT max(v) FROM checkpoint_migrations) AS checkpoints, (SELECT max(v) FROM store_migrations) AS store",
    );
    // LangGraph.js's checkpoint migrations are a prefix of Python's, which the owner applies.
    if (rows[0]?.checkpoints != null && rows[0].store === STORE_MIGRATIONS.length - 1) return;
  }
  throw new Error(
    "LangGraph's checkpoint and store tables are not set up, and this role may not create them: run `agentlist migrate` as the database's owner",
  );
}

const SETUP_LOCK_POLL_MS = 50;

/** Polled, never waited for in `pg_advisory_lock`: a session waiting there holds a snapshot,
 * and the holder's `CREATE INDEX CONCURRENTLY` (Python's `setup()`) waits for every older
 * snapshot to end — a deadlock through the holder's client that Postgres never breaks. */
async function takeSetupLock(client: pg.PoolClient): Promise<void> {
  for (;;) {
    const result = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [SETUP_LOCK_KEY]);
    if (result.rows[0]?.locked) return;
    await new Promise((resolve) => setTimeout(resolve, SETUP_LOCK_POLL_MS));
  }
}

/** `setup()` of the checkpointer and the store, one worker (Python or JS) at a time. */
export async function withSetupLock(pool: pg.Pool, body: () => Promise<void>): Promise<void> {
  const client = await pool.connect();
  try {
    await takeSetupLock(client);
    try {
      await body();
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [SETUP_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}
