/**
 * Deleting what one run wrote to its thread's checkpoints (cancel with action `rollback`).
 *
 * The saver has no "delete this run", so this speaks to LangGraph's tables directly, exactly as
 * the Python worker does: the checkpoints whose metadata carries the run's id, their pending
 * writes, and the writes the run added to checkpoints it did not create (a resumed run writes
 * its resume value onto the interrupted checkpoint), told apart by a baseline taken first.
 */
import type pg from "pg";

const LATEST_ROOT = `
SELECT checkpoint_id FROM checkpoints
WHERE thread_id = $1 AND checkpoint_ns = ''
ORDER BY checkpoint_id DESC LIMIT 1`;
// Checkpoint ids are time-ordered (uuid6), so writes a run can add to older checkpoints are on
// the thread's latest root checkpoint or its subgraphs' (written after it).
const WRITES_SINCE = `
SELECT checkpoint_ns, checkpoint_id, task_id, idx FROM checkpoint_writes
WHERE thread_id = $1 AND checkpoint_id >= $2`;
const DELETE_RUN_CHECKPOINTS = `
DELETE FROM checkpoints
WHERE thread_id = $1 AND metadata->>'run_id' = $2
RETURNING checkpoint_ns, checkpoint_id`;
const DELETE_WRITES_OF = `
DELETE FROM checkpoint_writes AS w
USING unnest($1::text[], $2::text[]) AS gone(ns, id)
WHERE w.thread_id = $3 AND w.checkpoint_ns = gone.ns AND w.checkpoint_id = gone.id`;
const DELETE_WRITE = `
DELETE FROM checkpoint_writes
WHERE thread_id = $1 AND checkpoint_ns = $2 AND checkpoint_id = $3 AND task_id = $4 AND idx = $5`;

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

export async function takeBaseline(pool: pg.Pool, threadId: string): Promise<WritesBaseline> {
  const latest = await pool.query<{ checkpoint_id: string }>(LATEST_ROOT, [threadId]);
  const since = latest.rows[0]?.checkpoint_id;
  if (since === undefined) return { sinceCheckpointId: null, keys: new Set() };
  const writes = await pool.query<WriteRow>(WRITES_SINCE, [threadId, since]);
  return { sinceCheckpointId: since, keys: new Set(writes.rows.map(keyOf)) };
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
