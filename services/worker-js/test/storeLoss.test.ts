import assert from "node:assert/strict";
import { test } from "node:test";
import pg from "pg";
import { isStoreLost } from "../src/storeLoss.js";

function withCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

test("a stopped or unreachable Postgres is a lost store", () => {
  const shutdown = new pg.DatabaseError("terminating connection due to administrator command", 0, "error");
  shutdown.code = "57P01";
  assert.ok(isStoreLost(shutdown));
  assert.ok(isStoreLost(new Error("Connection terminated unexpectedly")));
  assert.ok(isStoreLost(withCode("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")));
  assert.ok(isStoreLost(new AggregateError([withCode("connect ECONNREFUSED ::1:5432", "ECONNREFUSED")])));
  assert.ok(isStoreLost(new Error("checkpoint failed", { cause: withCode("read ECONNRESET", "ECONNRESET") })));
});

test("a graph's own error, or a query Postgres refused, is not", () => {
  assert.ok(!isStoreLost(new Error("boom")));
  const constraint = new pg.DatabaseError("duplicate key value violates unique constraint", 0, "error");
  constraint.code = "23505";
  assert.ok(!isStoreLost(constraint));
  assert.ok(!isStoreLost("Connection terminated"));
});
