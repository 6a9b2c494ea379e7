/**
 * The long-term memory store of JS graphs, in the table Python's LangGraph store uses.
 *
 * LangGraph.js's own `PostgresStore` has a different table layout, so JS graphs, Python graphs
 * and the API's `/store` would each see different items. This store keeps LangGraph.js's
 * `BaseStore` interface over Python's `store` table (`langgraph.store.postgres`: `prefix` is the
 * namespace joined with dots, `value` is jsonb), with Python's semantics for search filters,
 * namespace prefixes and namespace listing. No semantic search: like Python's store with no
 * embedding index, a search `query` is ignored.
 *
 * A run sees its tenant's part of it only (`TenantStore`), labelled as
 * `agentlist.core.tenant_store` labels it for Python's runs and the API's `/store`.
 */
import {
  BaseStore,
  InvalidNamespaceError,
  type GetOperation,
  type Item,
  type ListNamespacesOperation,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
} from "@langchain/langgraph-checkpoint";
import type pg from "pg";
import { STORE_MIGRATIONS } from "./generated/migrations.js";

type Row = { prefix?: string; key: string; value: Record<string, unknown>; created_at: Date; updated_at: Date };
type Result = Item | SearchItem[] | string[][] | null | undefined;

export class MeshStore extends BaseStore {
  constructor(private readonly pool: pg.Pool) {
    super();
  }

  /** Python's migrations (exported from its `langgraph` by contracts/export.py), applied and
   * recorded in `store_migrations` as Python's `setup()` does, so whichever language sets up
   * first, the other finds it done. Call under the worker's setup lock. */
  async setup(): Promise<void> {
    await this.pool.query("CREATE TABLE IF NOT EXISTS store_migrations (v INTEGER PRIMARY KEY)");
    const { rows } = await this.pool.query<{ v: number }>("SELECT v FROM store_migrations ORDER BY v DESC LIMIT 1");
    for (let v = (rows[0]?.v ?? -1) + 1; v < STORE_MIGRATIONS.length; v += 1) {
      await this.pool.query(STORE_MIGRATIONS[v]!);
      await this.pool.query("INSERT INTO store_migrations (v) VALUES ($1)", [v]);
    }
  }

  /** Reads first, then writes, as Python's store batches them. */
  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: Result[] = new Array(operations.length).fill(undefined);
    const puts: PutOperation[] = [];
    for (const [index, op] of operations.entries()) {
      if ("key" in op && "value" in op) puts.push(op);
      else if ("key" in op) results[index] = await this.get1(op);
      else if ("namespacePrefix" in op) results[index] = await this.search1(op);
      else results[index] = await this.listNamespaces1(op);
    }
    await this.putAll(puts);
    return results as OperationResults<Op>;
  }

  private async get1(op: GetOperation): Promise<Item | null> {
    const { rows } = await this.pool.query<Row>(
      "SELECT key, value, created_at, updated_at FROM store WHERE prefix = $1 AND key = $2",
      [namespaceText(op.namespace), op.key],
    );
    return rows[0] ? toItem(op.namespace, rows[0]) : null;
  }

  private async search1(op: SearchOperation): Promise<SearchItem[]> {
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = [];
    if (op.namespacePrefix.length) {
      const path = namespaceText(op.namespacePrefix);
      where.push(`(prefix = ${bind(path)} OR prefix LIKE ${bind(`${escapeLike(path)}.%`)} ESCAPE '\\')`);
    }
    for (const [key, condition] of Object.entries(op.filter ?? {})) {
      const operators = isPlainObject(condition) ? Object.entries(condition) : [["$eq", condition] as const];
      for (const [operator, value] of operators) where.push(filterCondition(key, operator, value, bind));
    }
    const { rows } = await this.pool.query<Row>(
      `SELECT prefix, key, value, created_at, updated_at FROM store
       WHERE ${where.length ? where.join(" AND ") : "TRUE"}
       ORDER BY updated_at DESC LIMIT ${bind(op.limit ?? 10)} OFFSET ${bind(op.offset ?? 0)}`,
      params,
    );
    return rows.map((row) => toItem(row.prefix!.split("."), row));
  }

  private async listNamespaces1(op: ListNamespacesOperation): Promise<string[][]> {
    const params: unknown[] = [op.maxDepth ?? null];
    const where: string[] = [];
    for (const condition of op.matchConditions ?? []) {
      if (!condition.path.length) continue;
      params.push(namespacePattern(condition.path, condition.matchType));
      where.push(`prefix ~ $${params.length}`);
    }
    params.push(op.limit, op.offset);
    const { rows } = await this.pool.query<{ truncated_prefix: string }>(
      `SELECT DISTINCT ON (truncated_prefix) truncated_prefix FROM (
         SELECT CASE WHEN $1::integer IS NOT NULL THEN
                  array_to_string((regexp_split_to_array(prefix, '\\.'))[1:$1::integer], '.')
                ELSE prefix END AS truncated_prefix
         FROM store ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ) AS namespaces
       ORDER BY truncated_prefix LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return rows.map((row) => row.truncated_prefix.split("."));
  }

  /** The last write of a `(namespace, key)` wins; a `null` value deletes. */
  private async putAll(puts: PutOperation[]): Promise<void> {
    const latest = new Map<string, PutOperation>();
    for (const op of puts) latest.set(JSON.stringify([op.namespace, op.key]), op);
    for (const op of latest.values()) {
      const prefix = namespaceText(op.namespace);
      if (op.value === null) {
        await this.pool.query("DELETE FROM store WHERE prefix = $1 AND key = $2", [prefix, op.key]);
        continue;
      }
      await this.pool.query(
        `INSERT INTO store (prefix, key, value, created_at, updated_at, expires_at, ttl_minutes)
         VALUES ($1, $2, $3::jsonb, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, NULL, NULL)
         ON CONFLICT (prefix, key) DO UPDATE
         SET value = EXCLUDED.value, updated_at = CURRENT_TIMESTAMP,
             expires_at = EXCLUDED.expires_at, ttl_minutes = EXCLUDED.ttl_minutes`,
        [prefix, op.key, JSON.stringify(op.value)],
      );
    }
  }
}

/** No namespace a client or graph names may start with a label that starts with this. */
export const RESERVED_LABEL_PREFIX = "__tenant__";

/** The first physical label of every item of `tenant`: its UTF-8 bytes other than letters,
 * digits, `_` and `-` percent-encoded, so it has no `.` (the separator) and no `:` (which
 * LangGraph.js refuses in labels). */
export function tenantLabel(tenant: string): string {
  const encoded = Array.from(new TextEncoder().encode(tenant), (byte) => {
    const char = String.fromCharCode(byte);
    return /^[A-Za-z0-9_-]$/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  });
  return RESERVED_LABEL_PREFIX + encoded.join("");
}

/**
 * `store` seen by one tenant: the physical namespace of every item is the tenant's label
 * followed by the namespace the tenant wrote; the label goes in on the way in and comes off on
 * the way out, so a run sees its namespaces as its tenant's clients wrote them, and nothing of
 * any other tenant.
 */
export class TenantStore extends BaseStore {
  private readonly label: string;

  constructor(
    private readonly store: BaseStore,
    tenant: string,
  ) {
    super();
    this.label = tenantLabel(tenant);
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    const results: Result[] = await this.store.batch(operations.map((op) => this.inward(op)));
    return operations.map((op, index) => outward(op, results[index])) as OperationResults<Op>;
  }

  private physical(namespace: string[]): string[] {
    return [this.label, ...checked(namespace)];
  }

  private inward(op: Operation): Operation {
    if ("key" in op) return { ...op, namespace: this.physical(op.namespace) };
    if ("namespacePrefix" in op) return { ...op, namespacePrefix: this.physical(op.namespacePrefix) };
    // Prefixes start at the tenant's label, and there is always one; suffixes are whole
    // namespaces' ends either way; depths count the label.
    const conditions = (op.matchConditions ?? []).map((condition) =>
      condition.matchType === "prefix" ? { ...condition, path: this.physical(condition.path) } : { ...condition, path: checked(condition.path) },
    );
    if (!conditions.some((condition) => condition.matchType === "prefix")) conditions.push({ matchType: "prefix", path: [this.label] });
    return { ...op, matchConditions: conditions, maxDepth: op.maxDepth === undefined ? undefined : op.maxDepth + 1 };
  }
}

/** `result` of `op` with the tenant's label taken off its namespaces. */
function outward(op: Operation, result: Result): Result {
  if ("key" in op && "value" in op) return result;
  if ("key" in op) return result && withoutLabel(result as Item);
  if ("namespacePrefix" in op) return (result as SearchItem[]).map(withoutLabel);
  return (result as string[][]).map((namespace) => namespace.slice(1));
}

function withoutLabel<T extends Item>(item: T): T {
  return { ...item, namespace: item.namespace.slice(1) };
}

function checked(namespace: string[]): string[] {
  if (namespace[0]?.startsWith(RESERVED_LABEL_PREFIX)) {
    throw new InvalidNamespaceError(`A namespace cannot start with '${RESERVED_LABEL_PREFIX}', which the server reserves: ${namespace.join(".")}`);
  }
  return namespace;
}

function toItem(namespace: string[], row: Row): Item {
  return { namespace, key: row.key, value: row.value, createdAt: row.created_at, updatedAt: row.updated_at };
}

function namespaceText(namespace: readonly string[]): string {
  return namespace.join(".");
}

/** Python's `_escape_like_literal`. */
function escapeLike(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("%", "\\%").replaceAll("_", "\\_");
}

/** Python's `_namespace_match_pattern`: `*` is one whole label. */
export function namespacePattern(path: readonly string[], matchType: string): string {
  const body = path.map((label) => (label === "*" ? "[^.]+" : label.replace(/[^A-Za-z0-9_]/g, "\\$&"))).join("\\.");
  return matchType === "suffix" ? `(^|\\.)${body}\\Z` : `^${body}(\\.|\\Z)`;
}

/** Python's `_get_filter_condition`. */
function filterCondition(key: string, operator: string, value: unknown, bind: (value: unknown) => string): string {
  switch (operator) {
    case "$eq":
      return `value->${bind(key)} = ${bind(JSON.stringify(value))}::jsonb`;
    case "$ne":
      return `value->${bind(key)} != ${bind(JSON.stringify(value))}::jsonb`;
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte": {
      const sql = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[operator];
      return `value->>${bind(key)} ${sql} ${bind(String(value))}`;
    }
    default:
      throw new Error(`Unsupported operator: ${operator}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
