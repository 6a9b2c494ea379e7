/** LangGraph.js's `StateSnapshot` in langgraph-api's `ThreadState` shape (plain JSON). */
import { errorInfoOf, toJsonable, type JsonValue } from "./serde.js";

type Config = { configurable?: Record<string, unknown> } & Record<string, unknown>;

interface TaskLike {
  id: string;
  name: string;
  path?: readonly unknown[];
  error?: unknown;
  interrupts?: readonly unknown[];
  state?: unknown;
  result?: unknown;
}

export interface SnapshotLike {
  values: unknown;
  next: readonly string[];
  config: Config;
  metadata?: unknown;
  createdAt?: string;
  parentConfig?: Config;
  tasks: readonly TaskLike[];
}

export type Interrupts = Record<string, Record<string, unknown>[]>;

export const EMPTY_THREAD_STATE = {
  values: {},
  next: [],
  tasks: [],
  checkpoint: null,
  metadata: null,
  created_at: null,
  parent_checkpoint: null,
  interrupts: [],
  checkpoint_id: null,
  parent_checkpoint_id: null,
} as const;

/** `{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map?}` of a runnable config, or null
 * when it names no checkpoint (langgraph-api's `runnable_config_to_checkpoint`). */
export function checkpointOf(config: unknown): Record<string, unknown> | null {
  const configurable = (config as Config | undefined)?.configurable;
  if (!configurable?.checkpoint_id) return null;
  const checkpoint: Record<string, unknown> = {
    thread_id: configurable.thread_id ?? null,
    checkpoint_ns: configurable.checkpoint_ns ?? "",
    checkpoint_id: configurable.checkpoint_id,
  };
  if ("checkpoint_map" in configurable) checkpoint.checkpoint_map = configurable.checkpoint_map;
  return checkpoint;
}

export function isSnapshot(value: unknown): value is SnapshotLike {
  return typeof value === "object" && value !== null && "values" in value && "next" in value && "tasks" in value;
}

export function hasCheckpoint(snapshot: SnapshotLike): boolean {
  return snapshot.createdAt !== undefined || checkpointOf(snapshot.config) !== null;
}

/** `{value, id}` as langgraph-api sends an interrupt (plus `response_schema` when set). */
export function interruptDict(interrupt: unknown): Record<string, unknown> {
  const source = (interrupt ?? {}) as Record<string, unknown>;
  const shaped: Record<string, unknown> = { value: source.value ?? null, id: source.id ?? null };
  if (source.response_schema !== undefined) shaped.response_schema = source.response_schema;
  return shaped;
}

export function interruptsByTask(snapshot: SnapshotLike): Interrupts {
  const found: Interrupts = {};
  for (const task of snapshot.tasks) {
    if (task.interrupts?.length) found[task.id] = task.interrupts.map(interruptDict);
  }
  return found;
}

/** The ThreadState of `snapshot`; a thread with no checkpoint yet has the empty state. */
export function threadState(snapshot: SnapshotLike): JsonValue {
  if (!hasCheckpoint(snapshot)) return toJsonable(EMPTY_THREAD_STATE);
  const checkpoint = checkpointOf(snapshot.config);
  const parent = checkpointOf(snapshot.parentConfig);
  return toJsonable({
    values: snapshot.values ?? {},
    next: [...snapshot.next],
    tasks: snapshot.tasks.map(taskState),
    checkpoint,
    metadata: checkpointMetadataOf(snapshot.metadata),
    created_at: pythonTimestamp(snapshot.createdAt),
    parent_checkpoint: parent,
    interrupts: snapshot.tasks.flatMap((task) => (task.interrupts ?? []).map(interruptDict)),
    checkpoint_id: checkpoint?.checkpoint_id ?? null,
    parent_checkpoint_id: parent?.checkpoint_id ?? null,
  });
}

/** The checkpoint's metadata as stored: LangGraph.js's snapshots add the thread's id, which
 * Python's (and this worker's saver) never record. */
function checkpointMetadataOf(metadata: unknown): unknown {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return metadata ?? null;
  const { thread_id: _thread, ...stored } = metadata as Record<string, unknown>;
  return stored;
}

/** A checkpoint's ISO timestamp as Python's `datetime.isoformat()` writes it (the Python
 * worker's `created_at`): `2025-01-02T03:04:05.678000+00:00`, not `...05.678Z`. */
export function pythonTimestamp(timestamp: string | undefined): string | null {
  if (timestamp === undefined) return null;
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|\+00:00)$/.exec(timestamp);
  if (match === null) return timestamp;
  const micros = (match[2] ?? "").slice(0, 6).padEnd(6, "0");
  return `${match[1]}${/^0+$/.test(micros) ? "" : `.${micros}`}+00:00`;
}

function taskState(task: TaskLike): Record<string, unknown> {
  const state = task.state;
  const nested = isSnapshot(state);
  return {
    id: task.id,
    name: task.name,
    path: [...(task.path ?? [])],
    error: task.error instanceof Error ? errorInfoOf(task.error) : (task.error ?? null),
    interrupts: (task.interrupts ?? []).map(interruptDict),
    checkpoint: !nested && state && typeof state === "object" ? ((state as Config).configurable ?? null) : null,
    state: nested ? threadState(state) : null,
    result: task.result ?? null,
  };
}
