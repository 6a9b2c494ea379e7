/**
 * One attempt of one run, from dispatch to outcome: build the graph, resume or start, stream
 * events, and end with exactly one `RunOutcome` (or nothing at all once revoked).
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import type { JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import type { ErrorInfo, RunDispatch } from "./generated/contracts.js";
import type { GraphSource, Persistence } from "./loader.js";
import type { Logger } from "./log.js";
import { EventPublisher, PublishingStopped, type OutcomeFields } from "./publisher.js";
import { deleteRunWrites, takeBaseline, type WritesBaseline } from "./rollback.js";
import { MeshPostgresSaver } from "./persistence.js";
import { errorInfoOf } from "./serde.js";
import { TenantStore } from "./store.js";
import { isStoreLost, STORE_FAILURE_ATTEMPTS } from "./storeLoss.js";
import { graphEvents, runConfig, runInput, withoutFork } from "./stream.js";
import { checkpointOf, hasCheckpoint, interruptsByTask, isSnapshot } from "./threadState.js";

/** Why a run was stopped before it finished. `revoked`: another attempt owns it now. */
export type StopReason = "interrupt" | "rollback" | "released" | "revoked" | "timeout";

const STOP_STATUS = {
  interrupt: "interrupted",
  rollback: "rollback",
  released: "released",
  timeout: "timeout",
} as const satisfies Record<Exclude<StopReason, "revoked">, OutcomeFields["status"]>;

export class RunStopped extends Error {
  override name = "RunStopped";
  constructor(readonly reason: StopReason) {
    super(`run stopped: ${reason}`);
  }
}

/** A held run: what the worker heartbeats about, cancels, revokes and waits for. */
export class RunHandle {
  readonly controller = new AbortController();
  stopReason: StopReason | undefined;
  done: Promise<void> = Promise.resolve();
  /** Its graph is done and its outcome is being published: it holds no slot any more. */
  reporting = false;

  constructor(readonly dispatch: RunDispatch) {}

  get revoked(): boolean {
    return this.stopReason === "revoked";
  }

  /** The first reason wins, except that a revocation silences whatever came before. */
  stop(reason: StopReason): void {
    if (this.stopReason !== undefined && reason !== "revoked") return;
    this.stopReason = reason;
    if (!this.controller.signal.aborted) this.controller.abort(new RunStopped(reason));
  }
}

export interface RunDeps {
  js: JetStreamClient;
  persistence: Persistence & { pool: pg.Pool };
  maxPayload: number;
  runTimeoutSeconds: number;
  closing: () => boolean;
  logger: Logger;
}

export async function executeRun(handle: RunHandle, source: GraphSource, deps: RunDeps): Promise<void> {
  const dispatch = handle.dispatch;
  const logger = deps.logger;
  const publisher = new EventPublisher(deps.js, {
    runId: dispatch.run_id,
    threadId: dispatch.thread_id,
    attempt: dispatch.attempt,
    token: dispatch.token ?? null,
  }, {
    maxPayload: deps.maxPayload,
    stopped: () => handle.revoked || deps.closing(),
    logger,
  });
  const timer = setTimeout(() => handle.stop("timeout"), deps.runTimeoutSeconds * 1000);
  let baseline: WritesBaseline = { sinceCheckpointId: null, keys: new Set() };
  const threadConfig: RunnableConfig = { configurable: { thread_id: dispatch.thread_id, checkpoint_ns: "" } };
  let fields: OutcomeFields;
  try {
    baseline = await takeBaseline(deps.persistence.pool, dispatch.thread_id);
    let config = runConfig(dispatch);
    const graph = await source.build(config, runPersistence(deps.persistence, dispatch));
    let input = runInput(dispatch.params);
    if (dispatch.resume_from_checkpoint && (await lastCheckpointIsOurs(deps.persistence, dispatch))) {
      logger.info(`run ${dispatch.run_id} attempt ${dispatch.attempt}: resuming from its last checkpoint`);
      config = withoutFork(config);
      input = null;
    }
    for await (const [event, data] of graphEvents(graph, input, config, dispatch.params, handle.controller.signal)) {
      if (handle.revoked) return;
      await publisher.event(event, data);
    }
    // A success whose state cannot be read is not reported as one (its answer would be
    // missing): it fails like the run itself would have, handed back if the store was lost.
    fields = { status: "success", ...(await readFinalState(source, threadConfig, deps)) };
  } catch (error) {
    if (handle.revoked || error instanceof PublishingStopped) return;
    fields = await failedOutcome(handle, error, source, threadConfig, baseline, deps);
  } finally {
    clearTimeout(timer);
  }
  handle.reporting = true;
  try {
    await publisher.outcome(fields);
    logger.info(`run ${dispatch.run_id} attempt ${dispatch.attempt}: ${fields.status} (${publisher.published} messages)`);
  } catch (error) {
    if (!(error instanceof PublishingStopped)) throw error;
    logger.warn(`run ${dispatch.run_id} attempt ${dispatch.attempt}: outcome not published (${error.message})`);
  }
}

async function failedOutcome(
  handle: RunHandle,
  error: unknown,
  source: GraphSource,
  threadConfig: RunnableConfig,
  baseline: WritesBaseline,
  deps: RunDeps,
): Promise<OutcomeFields> {
  const dispatch = handle.dispatch;
  const reason = handle.stopReason;
  if (reason !== undefined && reason !== "revoked") {
    if (reason === "rollback") await rollBack(deps, dispatch, baseline);
    const info: ErrorInfo | null = reason === "timeout" ? { error: "TimeoutError", message: `Run exceeded ${deps.runTimeoutSeconds}s`, retryable: false } : null;
    return { status: STOP_STATUS[reason], error: info, ...(await finalState(source, threadConfig, deps)) };
  }
  if (isStoreLost(error) && dispatch.attempt < STORE_FAILURE_ATTEMPTS) {
    // No fault of the graph: the next attempt continues from the run's last checkpoint.
    deps.logger.warn(`run ${dispatch.run_id} attempt ${dispatch.attempt}: the checkpoint store failed; handing it back`, error);
    return { status: "released", error: null };
  }
  deps.logger.warn(`run ${dispatch.run_id} attempt ${dispatch.attempt} failed`, error);
  return { status: "error", error: { ...errorInfoOf(error), retryable: false }, ...(await finalState(source, threadConfig, deps)) };
}

const LATE_WRITE_GRACE_MS = 100;

/** What the run's graph is given: the store of the run's tenant only. */
function runPersistence(persistence: Persistence, dispatch: RunDispatch): Persistence {
  const store = persistence.store && new TenantStore(persistence.store, dispatch.tenant_id);
  return { checkpointer: persistence.checkpointer, store };
}

async function rollBack(deps: RunDeps, dispatch: RunDispatch, baseline: WritesBaseline): Promise<void> {
  const saver = deps.persistence.checkpointer;
  const settled = async (): Promise<void> => {
    if (saver instanceof MeshPostgresSaver) await saver.settled(dispatch.thread_id);
  };
  try {
    // The stopped graph may still be saving: delete after its saves, then once more after a
    // save it had scheduled but not begun.
    await settled();
    let gone = await deleteRunWrites(deps.persistence.pool, dispatch.thread_id, dispatch.run_id, baseline);
    await new Promise((resolve) => setTimeout(resolve, LATE_WRITE_GRACE_MS));
    await settled();
    gone += await deleteRunWrites(deps.persistence.pool, dispatch.thread_id, dispatch.run_id, baseline);
    deps.logger.info(`run ${dispatch.run_id} rolled back: ${gone} checkpoints deleted`);
  } catch (error) {
    deps.logger.error(`run ${dispatch.run_id}: rollback failed`, error);
  }
}

/** The thread's values, next nodes and interrupts at its latest checkpoint. */
async function readFinalState(source: GraphSource, threadConfig: RunnableConfig, deps: RunDeps): Promise<Omit<OutcomeFields, "status">> {
  const graph = await source.build(threadConfig, deps.persistence);
  const snapshot = await graph.getState(threadConfig);
  if (!isSnapshot(snapshot)) return {};
  if (!hasCheckpoint(snapshot)) return { values: {} };
  return {
    values: snapshot.values,
    next: snapshot.next,
    interrupts: interruptsByTask(snapshot),
    checkpointId: (checkpointOf(snapshot.config)?.checkpoint_id as string | undefined) ?? null,
  };
}

/** The final state for a run that did not succeed: what can be read of it. */
async function finalState(source: GraphSource, threadConfig: RunnableConfig, deps: RunDeps): Promise<Omit<OutcomeFields, "status">> {
  try {
    return await readFinalState(source, threadConfig, deps);
  } catch (error) {
    deps.logger.warn("cannot read the thread's final state", error);
    return {};
  }
}

/** A retried attempt continues only if the thread's latest checkpoint was written by this run. */
async function lastCheckpointIsOurs(persistence: Persistence, dispatch: RunDispatch): Promise<boolean> {
  const latest = await persistence.checkpointer.getTuple({ configurable: { thread_id: dispatch.thread_id, checkpoint_ns: "" } });
  return (latest?.metadata as Record<string, unknown> | undefined)?.run_id === dispatch.run_id;
}
