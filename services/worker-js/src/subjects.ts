/** Subject builders over the generated templates: the only place ids become subject tokens. */
import { createHash } from "node:crypto";
import {
  GRAPH_STATE,
  REGISTRY_HEARTBEAT,
  REGISTRY_REGISTER,
  RUN_CANCEL,
  RUN_EVENTS,
  WORKER_CONTROL,
  WORKER_DISPATCH,
} from "./generated/subjects.js";

export * from "./generated/subjects.js";

const TOKEN = /^[A-Za-z0-9_-]+$/;

/** `value` if it can stand as one subject token, else throws: dots, wildcards and spaces would
 * change which subscribers a subject reaches. */
export function token(value: string): string {
  if (!TOKEN.test(value)) {
    throw new Error(`${JSON.stringify(value)} cannot be a NATS subject token: use letters, digits, _ and -`);
  }
  return value;
}

export function isToken(value: string): boolean {
  return TOKEN.test(value);
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return token(value);
  });
}

export const runEvents = (runId: string): string => fill(RUN_EVENTS, { run_id: runId });
export const runCancel = (runId: string): string => fill(RUN_CANCEL, { run_id: runId });
export const workerDispatch = (team: string, workerId: string): string => fill(WORKER_DISPATCH, { team, worker_id: workerId });
export const workerControl = (team: string, workerId: string): string => fill(WORKER_CONTROL, { team, worker_id: workerId });
export const registryRegister = (team: string): string => fill(REGISTRY_REGISTER, { team });
export const registryHeartbeat = (team: string): string => fill(REGISTRY_HEARTBEAT, { team });

/** The stack's own team (contracts' `access.DEFAULT_TEAM`), which the `worker` user is. */
export const DEFAULT_TEAM = "default";
const TEAM_USER_PREFIX = "worker-";

/** The team whose workers connect as `user` (`worker-<team>`), as contracts'
 * `access.team_of_user` reads it: its subjects are the only ones that user may use. */
export function teamOfUser(user: string | undefined): string {
  if (user && user.startsWith(TEAM_USER_PREFIX) && user.length > TEAM_USER_PREFIX.length) {
    return user.slice(TEAM_USER_PREFIX.length);
  }
  return DEFAULT_TEAM;
}
export const graphState = (graphId: string): string => fill(GRAPH_STATE, { graph_id: graphId });

/** Hex characters of the lease token's SHA-256 that end a run message's id (Python's
 * `subjects.MSG_ID_DIGEST_CHARS`). */
const MSG_ID_DIGEST_CHARS = 16;

/** The `Nats-Msg-Id` of one run message: JetStream drops a republished duplicate. It ends with
 * a digest of the attempt's lease token, so that no one lacking the token can take the id of a
 * message to come (JetStream would drop the real one as its duplicate). */
export function eventMsgId(runId: string, attempt: number, seq: number, token: string | null): string {
  if (!token) return `${runId}:${attempt}:${seq}`;
  const digest = createHash("sha256").update(token, "utf8").digest("hex").slice(0, MSG_ID_DIGEST_CHARS);
  return `${runId}:${attempt}:${seq}:${digest}`;
}
