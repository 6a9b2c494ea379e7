/**
 * Deleting what one run wrote to its thread's checkpoints (cancel with action `rollback`).
 *
 * The saver has no "delete this run", so this speaks to LangGraph's tables directly, exactly as
 * the Python worker does: the checkpoints whose metadata carries the run's id, their pending
 * writes, and the writes the run added to checkpoints it did not create (a resumed run writes
 * its resume value onto the interrupted checkpoint), told apart by a baseline taken first.
 * The statements are the Python worker's own (`agentlist.contracts.rollback_sql`, generated).
 */
import type pg from "pg";
import { BASELINE, DELETE_RUN_CHECKPOINTS, DELETE_WRITE, DELETE_WRITES_OF, WRITES_SINCE } from "./generated/rollbackSql.js";

interface WriteRow {
  checkpoint_ns: string;
  checkpoint_id: string;
  task_id: string;
  idx: number;
}

/** The writes on the thread's latest checkpoints before a run started. */
export interface WritesBaseline {
  sinceCheckpointId: string | null;
  keys: ReadonlySet<string>;
}

const keyOf = (row: WriteRow): string => JSON.stringify([row.checkpoint_ns, row.checkpoint_id, row.task_id, row.idx]);

/** One row per write since the latest root checkpoint; the write columns are null when none. */
interface BaselineRow {
  since: string;
  checkpoint_ns: string | null;
  checkpoint_id: string | null;
  task_id: string | null;
  idx: number | null;
}

const isWrite = (row: BaselineRow): row is BaselineRow & WriteRow => row.checkpoint_id !== null;

export async function takeBaseline(pool: pg.Pool, threadId: string): Promise<WritesBaseline> {
  const { rows } = await pool.query<BaselineRow>(BASELINE, [threadId]);
  const since = rows[0]?.since;
  if (since === undefined) return { sinceCheckpointId: null, keys: new Set() };
  return { sinceCheckpointId: since, keys: new Set(rows.filter(isWrite).map(keyOf)) };
}

/** Delete the run's checkpoints and writes in one transaction; returns checkpoints gone. */
export async function deleteRunWrites(pool: pg.Pool, threadId: string, runId: string, baseline: WritesBaseline): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const gone = await client.query<{ checkpoint_ns: string; checkpoint_id: string }>(DELETE_RUN_CHECKPOINTS, [threadId, runId]);
    if (gone.rows.length) {
      await client.query(DELETE_WRITES_OF, [gone.rows.map((r) => r.checkpoint_ns), gone.rows.map((r) => r.checkpoint_id), threadId]);
    }
    if (baseline.sinceCheckpointId !== null) {
      const writes = await client.query<WriteRow>(WRITES_SINCE, [threadId, baseline.sinceCheckpointId]);
      for (const row of writes.rows) {
        if (baseline.keys.has(keyOf(row))) continue;
        await client.query(DELETE_WRITE, [threadId, row.checkpoint_ns, row.checkpoint_id, row.task_id, row.idx]);
      }
    }
    await client.query("COMMIT");
    return gone.rows.length;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
