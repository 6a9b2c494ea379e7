/**
 * The worker's life on the mesh (docs/protocol.md, "A worker's life"): register, heartbeat,
 * accept dispatches up to capacity, run them, answer cancels, state requests and control
 * messages, and drain. Every message received is checked against its schema first (`wire.ts`):
 * a malformed one is logged and refused with the protocol's error reply, or dropped where the
 * protocol has none, and never reaches the code that acts on messages.
 */
import { hostname } from "node:os";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  MESSAGE_TYPE,
  type DispatchReply,
  type GraphInfo,
  type Heartbeat,
  type HeartbeatReply,
  type RunDispatch,
  type WorkerControlReply,
  type WorkerRegister,
} from "./generated/contracts.js";
import type { GraphSource } from "./loader.js";
import type { Logger } from "./log.js";
import type { OpenPersistence } from "./persistence.js";
import { executeRun, type RunHandle } from "./runner.js";
import { RunTable } from "./runTable.js";
import { answerStateRequest, decodeStateRequest, stateFailure, type StateRequest } from "./stateOps.js";
import * as subjects from "./subjects.js";
import { runtimeVersions, WORKER_VERSION } from "./version.js";
import { decodeMessage, encodeMessage, MalformedMessage, type MessageKind, type MessageOf } from "./wire.js";

export interface WorkerOptions {
  workerId: string;
  /** The team of the NATS user it connects as: its subjects name it. */
  team: string;
  capacity: number;
  drainGraceSeconds: number;
  runTimeoutSeconds: number;
  /** After the grace period, released runs get this long to publish their outcome. */
  releaseSeconds?: number;
}

export interface WorkerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  sources: ReadonlyMap<string, GraphSource>;
  graphs: readonly GraphInfo[];
  persistence: OpenPersistence;
  logger: Logger;
}

const BACKOFF_MS = [100, 250, 500, 1000, 2000];
const REQUEST_TIMEOUT_MS = 2_000;

export class Worker {
  private readonly table: RunTable;
  private readonly tasks = new Map<RunHandle, Promise<void>>();
  private readonly cancelSubs = new Map<RunHandle, Subscription>();
  private readonly stateSubs = new Map<string, Subscription>();
  private readonly ownSubs: Subscription[] = [];
  private heartbeatIntervalMs = 5_000;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private registering: Promise<boolean> | undefined;
  private stopped = false;
  private registeredOnce = false;
  private drainDone: Promise<void> | undefined;
  private resolveFinished!: () => void;
  /** Resolves once the worker drained (or was closed): the process should exit. */
  readonly finished = new Promise<void>((resolve) => (this.resolveFinished = resolve));

  constructor(private readonly options: WorkerOptions, private readonly deps: WorkerDeps) {
    this.table = new RunTable(options.capacity);
  }

  get workerId(): string {
    return this.options.workerId;
  }

  get registered(): boolean {
    return this.registeredOnce;
  }

  get draining(): boolean {
    return this.table.draining;
  }

  /** Subscribe, register (waiting for a registry), then heartbeat. False if stopped first. */
  async start(): Promise<boolean> {
    const { nc } = this.deps;
    this.listen(nc.subscribe(subjects.workerDispatch(this.options.team, this.workerId)), (msg) => this.onDispatch(msg), this.ownSubs);
    this.listen(nc.subscribe(subjects.workerControl(this.options.team, this.workerId)), (msg) => this.onControl(msg), this.ownSubs);
    if (!(await this.register())) return false;
    void this.heartbeatLoop();
    return true;
  }

  // -- registration --------------------------------------------------------------------------

  /** Register until a registry accepts (single-flight); false if the worker stopped first. */
  register(): Promise<boolean> {
    this.registering ??= this.registerUntilAccepted().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async registerUntilAccepted(): Promise<boolean> {
    const message: WorkerRegister = {
      type: MESSAGE_TYPE.WorkerRegister,
      worker_id: this.workerId,
      language: "javascript",
      version: WORKER_VERSION,
      host: hostname(),
      pid: process.pid,
      capacity: this.options.capacity,
      graphs: [...this.deps.graphs],
      runtime: runtimeVersions(),
    };
    for (let attempt = 0; !this.stopped; attempt += 1) {
      try {
        const reply = await this.request("RegisterReply", subjects.registryRegister(this.options.team), message);
        if (reply.accepted) {
          this.heartbeatIntervalMs = Math.max(50, reply.heartbeat_interval * 1000);
          this.serve(reply.rejected_graphs ?? {});
          this.registeredOnce = true;
          return true;
        }
        this.deps.logger.warn(`registration refused: ${reply.reason ?? "no reason given"}`);
      } catch (error) {
        // A malformed reply is retried too: a registry of a newer version may be rolling out.
        if (error instanceof MalformedMessage) this.deps.logger.warn(error.message);
        else if (attempt % 20 === 0) this.deps.logger.info(`no registry answered yet (${String(error)}); retrying`);
      }
      await sleep(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!);
    }
    return false;
  }

  /** Serve the graphs the registry did not give to another language. */
  private serve(rejected: Record<string, string | undefined>): void {
    for (const [graphId, reason] of Object.entries(rejected)) {
      this.deps.logger.warn(`graph ${graphId} rejected by the registry: ${reason ?? ""}`);
    }
    this.table.served = new Set([...this.deps.sources.keys()].filter((graphId) => !(graphId in rejected)));
    if (!this.table.draining) this.serveState(this.table.served);
    this.deps.logger.info(`worker ${this.workerId} registered; serving ${[...this.table.served].sort().join(", ")}`);
  }

  private serveState(graphIds: ReadonlySet<string>): void {
    for (const [graphId, sub] of this.stateSubs) {
      if (graphIds.has(graphId)) continue;
      sub.unsubscribe();
      this.stateSubs.delete(graphId);
    }
    for (const graphId of graphIds) {
      if (this.stateSubs.has(graphId)) continue;
      const sub = this.deps.nc.subscribe(subjects.graphState(graphId), { queue: subjects.GRAPH_STATE_QUEUE });
      this.stateSubs.set(graphId, sub);
      this.listen(sub, (msg) => this.onStateRequest(graphId, msg));
    }
  }

  // -- heartbeats ----------------------------------------------------------------------------

  /** Heartbeats go on while draining: they renew the leases of the runs still finishing. */
  private async heartbeatLoop(): Promise<void> {
    while (!this.stopped) {
      await this.heartbeat();
      await new Promise<void>((resolve) => (this.heartbeatTimer = setTimeout(resolve, this.heartbeatIntervalMs)));
    }
  }

  private beatNow(): void {
    if (this.heartbeatTimer !== undefined) this.heartbeatTimer.refresh();
    void this.heartbeat();
  }

  /** One heartbeat; `stopping`: the last one, after draining, as the worker exits. */
  async heartbeat(stopping = false): Promise<void> {
    const message: Heartbeat = {
      type: MESSAGE_TYPE.Heartbeat,
      worker_id: this.workerId,
      capacity: this.options.capacity,
      runs: this.table.held(),
      draining: this.table.draining,
      stopping,
    };
    let reply: HeartbeatReply;
    try {
      reply = await this.request("HeartbeatReply", subjects.registryHeartbeat(this.options.team), message, Math.min(this.heartbeatIntervalMs, REQUEST_TIMEOUT_MS));
    } catch (error) {
      if (error instanceof MalformedMessage) this.deps.logger.warn(error.message);
      else this.deps.logger.info(`heartbeat unanswered: ${String(error)}`);
      return;
    }
    if (stopping) return;
    for (const held of reply.revoked ?? []) {
      if (this.table.revoke(held)) this.deps.logger.warn(`run ${held.run_id} attempt ${held.attempt} revoked by the registry`);
    }
    for (const cancel of reply.cancels ?? []) this.table.cancel(cancel.run_id, cancel.action);
    if (reply.drain) void this.drain("the registry asked");
    if (!reply.known && !this.stopped) {
      this.deps.logger.warn("the registry does not know this worker; registering again");
      await this.register();
    }
  }

  // -- dispatch and cancel -------------------------------------------------------------------

  private onDispatch(msg: Msg): void {
    const dispatch = this.readDispatch(msg);
    if (dispatch === undefined) {
      this.reply<DispatchReply>(msg, { type: MESSAGE_TYPE.DispatchReply, accepted: false, reason: "unreadable dispatch" });
      return;
    }
    const decision = this.table.decide(dispatch);
    if (decision.supersedes !== undefined) {
      this.deps.logger.info(`run ${dispatch.run_id}: attempt ${dispatch.attempt} replaces ${decision.supersedes.dispatch.attempt}`);
      decision.supersedes.stop("revoked");
      this.forget(decision.supersedes);
    }
    if (decision.start) {
      const handle = this.table.hold(dispatch);
      // Subscribed before replying: a cancel sent right after acceptance reaches us.
      const sub = this.deps.nc.subscribe(subjects.runCancel(dispatch.run_id));
      this.cancelSubs.set(handle, sub);
      this.listen(sub, (cancelMsg) => this.onCancel(cancelMsg));
      this.tasks.set(handle, this.runHeld(handle));
      this.deps.logger.info(`run ${dispatch.run_id} attempt ${dispatch.attempt} accepted (${dispatch.graph_id}, ${this.table.size}/${this.table.capacity} held)`);
    } else if (!decision.accepted) {
      this.deps.logger.info(`run ${dispatch.run_id} attempt ${dispatch.attempt} refused: ${decision.reason}`);
    }
    this.reply<DispatchReply>(msg, { type: MESSAGE_TYPE.DispatchReply, accepted: decision.accepted, reason: decision.reason ?? null });
  }

  /** A dispatch whose run id can name the run's cancel subject, or undefined (logged). */
  private readDispatch(msg: Msg): RunDispatch | undefined {
    const dispatch = this.read("RunDispatch", msg);
    if (dispatch === undefined || subjects.isToken(dispatch.run_id)) return dispatch;
    const detail = `/run_id ${JSON.stringify(dispatch.run_id)} cannot be a subject token`;
    this.deps.logger.warn(new MalformedMessage(msg.subject, "RunDispatch", detail).message);
    return undefined;
  }

  private async runHeld(handle: RunHandle): Promise<void> {
    const { dispatch } = handle;
    try {
      await executeRun(handle, this.deps.sources.get(dispatch.graph_id)!, {
        js: this.deps.js,
        persistence: this.deps.persistence,
        maxPayload: this.deps.nc.info?.max_payload ?? 1024 * 1024,
        runTimeoutSeconds: this.options.runTimeoutSeconds,
        closing: () => this.stopped,
        logger: this.deps.logger.child("run"),
      });
    } catch (error) {
      this.deps.logger.error(`run ${dispatch.run_id} attempt ${dispatch.attempt} failed to report`, error);
    } finally {
      this.forget(handle);
    }
  }

  private forget(handle: RunHandle): void {
    this.cancelSubs.get(handle)?.unsubscribe();
    this.cancelSubs.delete(handle);
    this.table.forget(handle);
    void this.tasks.get(handle)?.finally(() => this.tasks.delete(handle));
  }

  private onCancel(msg: Msg): void {
    const cancel = this.read("RunCancel", msg);
    if (cancel === undefined) return;
    if (this.table.cancel(cancel.run_id, cancel.action)) {
      this.deps.logger.info(`run ${cancel.run_id}: cancel (${cancel.action ?? "interrupt"}) requested`);
    }
  }

  // -- state and control ---------------------------------------------------------------------

  private async onStateRequest(graphId: string, msg: Msg): Promise<void> {
    let request: StateRequest;
    try {
      request = decodeStateRequest(msg.subject, msg.data);
    } catch (error) {
      if (!(error instanceof MalformedMessage)) throw error;
      this.deps.logger.warn(error.message);
      msg.respond(encodeMessage(stateFailure(422, "ValidationError", error.message)));
      return;
    }
    const source = this.deps.sources.get(graphId);
    const reply = source === undefined ? stateFailure(404, "GraphNotFound", `Graph '${graphId}' is not served here`, request.thread_id) : await answerStateRequest(request, source, this.deps.persistence);
    msg.respond(encodeMessage(reply));
  }

  /** A control message has no error reply: a malformed one goes unanswered. */
  private onControl(msg: Msg): void {
    const control = this.read("WorkerControl", msg);
    if (control === undefined) return;
    if (control.action === "drain") void this.drain("a control message asked");
    this.reply<WorkerControlReply>(msg, {
      type: MESSAGE_TYPE.WorkerControlReply,
      worker_id: this.workerId,
      inflight: this.table.size,
      draining: this.table.draining,
    });
  }

  // -- draining and closing ------------------------------------------------------------------

  /** Refuse new runs, let held ones finish for the grace period, release the rest, then
   * resolve `finished`. */
  drain(why: string): Promise<void> {
    this.drainDone ??= this.drainHeld(why).finally(() => this.resolveFinished());
    return this.drainDone;
  }

  private async drainHeld(why: string): Promise<void> {
    this.table.draining = true;
    this.deps.logger.info(`draining (${why}): ${this.table.size} runs held`);
    this.beatNow();
    this.serveState(new Set());
    await this.waitForRuns(this.options.drainGraceSeconds * 1000);
    const leftovers = this.table.all();
    for (const handle of leftovers) handle.stop("released");
    if (leftovers.length) {
      this.deps.logger.info(`handing back ${leftovers.length} unfinished runs`);
      await this.waitForRuns((this.options.releaseSeconds ?? 30) * 1000);
      for (const handle of this.table.all()) {
        this.deps.logger.warn(`run ${handle.dispatch.run_id}: could not report its release; its lease will`);
        handle.stop("revoked");
      }
      await this.waitForRuns(5_000);
    }
    await this.heartbeat(true); // the runs are gone, and so is this worker
  }

  private async waitForRuns(timeoutMs: number): Promise<void> {
    const running = [...this.tasks.values()];
    if (!running.length) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(running), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Stop listening and heartbeating. Runs still held are abandoned (their leases expire). */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.heartbeatTimer);
    for (const handle of this.table.all()) handle.stop("revoked");
    for (const sub of [...this.ownSubs, ...this.cancelSubs.values(), ...this.stateSubs.values()]) sub.unsubscribe();
    this.resolveFinished();
  }

  // -- plumbing ------------------------------------------------------------------------------

  private listen(sub: Subscription, handler: (msg: Msg) => void | Promise<void>, keep?: Subscription[]): void {
    keep?.push(sub);
    void (async () => {
      for await (const msg of sub) {
        Promise.resolve()
          .then(() => handler(msg))
          .catch((error: unknown) => this.deps.logger.error(`handling ${msg.subject} failed`, error));
      }
    })();
  }

  /** The `kind` message in `msg`, or undefined (and one log line) when it is malformed. */
  private read<K extends MessageKind>(kind: K, msg: Msg): MessageOf<K> | undefined {
    try {
      return decodeMessage(kind, msg.subject, msg.data);
    } catch (error) {
      if (!(error instanceof MalformedMessage)) throw error;
      this.deps.logger.warn(error.message);
      return undefined;
    }
  }

  /** The `kind` reply to `message`; throws `MalformedMessage` when the reply is malformed. */
  private async request<K extends MessageKind>(kind: K, subject: string, message: object, timeout = REQUEST_TIMEOUT_MS): Promise<MessageOf<K>> {
    const reply = await this.deps.nc.request(subject, encodeMessage(message), { timeout });
    return decodeMessage(kind, `${subject} (reply)`, reply.data);
  }

  private reply<T extends object>(msg: Msg, message: T): void {
    msg.respond(encodeMessage(message));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
