/** The runs a worker holds: capacity, idempotent re-dispatch, and superseded attempts. */
import type { HeldRun, RunDispatch } from "./generated/contracts.js";
import { RunHandle } from "./runner.js";

export interface Decision {
  accepted: boolean;
  reason?: string;
  /** False for a repeated dispatch of an attempt already held. */
  start: boolean;
  /** An older attempt of the same run held here, to revoke before starting this one. */
  supersedes?: RunHandle;
}

export class RunTable {
  served = new Set<string>();
  draining = false;
  private readonly runs = new Map<string, RunHandle>();

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.runs.size;
  }

  all(): RunHandle[] {
    return [...this.runs.values()];
  }

  get(runId: string): RunHandle | undefined {
    return this.runs.get(runId);
  }

  held(): HeldRun[] {
    return this.all().map((run) => ({
      run_id: run.dispatch.run_id,
      attempt: run.dispatch.attempt,
      token: run.dispatch.token,
    }));
  }

  /** Whether to take `dispatch` (protocol step 4). */
  decide(dispatch: RunDispatch): Decision {
    const current = this.runs.get(dispatch.run_id);
    if (current !== undefined && current.dispatch.attempt === dispatch.attempt) return { accepted: true, start: false };
    if (current !== undefined && current.dispatch.attempt > dispatch.attempt) {
      return { accepted: false, reason: "a newer attempt of this run is held here", start: false };
    }
    if (this.draining) return { accepted: false, reason: "worker is draining", start: false };
    if (!this.served.has(dispatch.graph_id)) {
      return { accepted: false, reason: `graph '${dispatch.graph_id}' is not served`, start: false };
    }
    if (current === undefined && this.busy() >= this.capacity) {
      return { accepted: false, reason: "worker is at capacity", start: false };
    }
    return { accepted: true, start: true, supersedes: current };
  }

  /** Slots taken: a run publishing its outcome stays held (its lease renewed until the
   * outcome is stored) but runs no graph; counted busy, it would refuse the next run, which
   * Postgres may already have given its slot once the outcome landed. */
  busy(): number {
    let busy = 0;
    for (const run of this.runs.values()) if (!run.reporting) busy += 1;
    return busy;
  }

  hold(dispatch: RunDispatch): RunHandle {
    const handle = new RunHandle(dispatch);
    this.runs.set(dispatch.run_id, handle);
    return handle;
  }

  forget(handle: RunHandle): void {
    if (this.runs.get(handle.dispatch.run_id) === handle) this.runs.delete(handle.dispatch.run_id);
  }

  cancel(runId: string, action: "interrupt" | "rollback" | undefined): boolean {
    const handle = this.runs.get(runId);
    if (handle === undefined) return false;
    handle.stop(action === "rollback" ? "rollback" : "interrupt");
    return true;
  }

  revoke(held: HeldRun): boolean {
    const handle = this.runs.get(held.run_id);
    if (handle === undefined || handle.dispatch.attempt !== held.attempt) return false;
    handle.stop("revoked");
    return true;
  }
}
