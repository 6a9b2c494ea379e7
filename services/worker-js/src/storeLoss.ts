/** Whether an error means the checkpoint store (Postgres) went away, not that the graph failed. */

/** Attempts up to which a run whose store failed under it is handed back, as in the Python worker. */
export const STORE_FAILURE_ATTEMPTS = 3;

// SQLSTATE classes 08 (connection exception) and 57P (operator intervention: shutdown, crash
// recovery), and the socket errors of a server that is gone or restarting.
const LOST_CODES = new Set(["08000", "08001", "08003", "08004", "08006", "57P01", "57P02", "57P03", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"]);
// node-postgres reports a connection closed under a query without a code.
const LOST_MESSAGES = /connection terminated|client has encountered a connection error|connection timeout/i;

export function isStoreLost(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof AggregateError && error.errors.some(isStoreLost)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && LOST_CODES.has(code)) return true;
  if (LOST_MESSAGES.test(error.message)) return true;
  return error.cause !== undefined && isStoreLost(error.cause);
}
