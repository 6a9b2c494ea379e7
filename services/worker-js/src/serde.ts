/**
 * JSON for whatever a graph streams: messages, interrupts, commands, errors, and worse.
 * Serialising a chunk must never fail a run, so anything unknown degrades to its text.
 */
import { isMessage, messageToDict } from "./messages.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 200;

/** `value` as plain JSON values; never throws. */
export function toJsonable(value: unknown): JsonValue {
  return convert(value, new WeakSet<object>(), 0);
}

/** `JSON.stringify` of `toJsonable(value)`, UTF-8 encoded. */
export function encodeJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(toJsonable(value)));
}

export function errorInfoOf(error: unknown): { error: string; message: string } {
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? error.name : error.constructor?.name;
    return { error: name || "Error", message: error.message };
  }
  return { error: "Error", message: String(error) };
}

function convert(value: unknown, seen: WeakSet<object>, depth: number): JsonValue {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return null;
  }
  if (value === null) return null;
  const obj = value as object;
  if (depth > MAX_DEPTH || seen.has(obj)) return String(obj);
  seen.add(obj);
  try {
    return convertObject(obj, seen, depth + 1);
  } catch {
    return safeString(obj);
  } finally {
    seen.delete(obj);
  }
}

function convertObject(obj: object, seen: WeakSet<object>, depth: number): JsonValue {
  const recurse = (item: unknown) => convert(item, seen, depth);
  if (isMessage(obj)) return recurse(messageToDict(obj));
  if (Array.isArray(obj)) return obj.map(recurse);
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  if (obj instanceof Map) return plainObject([...obj.entries()].map(([k, v]) => [String(k), v]), recurse);
  if (obj instanceof Set) return [...obj].map(recurse);
  if (obj instanceof Error) return { error: errorInfoOf(obj).error, message: obj.message };
  if (ArrayBuffer.isView(obj)) return Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString("utf8");
  if (obj instanceof ArrayBuffer) return Buffer.from(obj).toString("utf8");
  const special = langGraphObject(obj);
  if (special !== undefined) return recurse(special);
  const toJSON = (obj as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function" && !isLangChainSerializable(obj)) {
    return recurse(toJSON.call(obj));
  }
  const entries = Object.entries(obj);
  return plainObject(
    isLangChainSerializable(obj) ? entries.filter(([key]) => !key.startsWith("lc_")) : entries,
    recurse,
  );
}

/** LangGraph's Command and Send as langgraph-api shows them (Python's field names). */
function langGraphObject(obj: object): unknown {
  const record = obj as Record<string, unknown>;
  if (record.lg_name === "Command") {
    return { update: record.update ?? null, resume: record.resume ?? null, goto: record.goto ?? [], graph: record.graph ?? null };
  }
  if (record.lg_name === "Send") return { node: record.node, arg: record.args };
  return undefined;
}

function isLangChainSerializable(obj: object): boolean {
  return "lc_serializable" in obj && "lc_kwargs" in obj;
}

function plainObject(entries: [string, unknown][], recurse: (item: unknown) => JsonValue): JsonValue {
  const out: { [key: string]: JsonValue } = {};
  for (const [key, item] of entries) {
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    out[key] = recurse(item);
  }
  return out;
}

function safeString(obj: object): string {
  try {
    return String(obj);
  } catch {
    return Object.prototype.toString.call(obj);
  }
}
