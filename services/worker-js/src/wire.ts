/**
 * Reading what arrives over NATS. Every message the worker receives is parsed and checked
 * against the contracts' JSON Schema (validators generated from contracts/schema/ by
 * `npm run gen:contracts`) before a handler sees it: a handler gets a well-formed message or a
 * `MalformedMessage` error whose text names the subject and what is wrong, on one line.
 * Unknown fields pass, as the Python contracts ignore them: a newer sender may add some.
 */
import * as validators from "./generated/validators.js";
import type { SchemaError, Validator } from "./generated/validators.js";

/** A wire message by its model's name: `"RunDispatch"`, `"HeartbeatReply"`... */
export type MessageKind = keyof typeof validators;
export type MessageOf<K extends MessageKind> = (typeof validators)[K] extends Validator<infer T> ? T : never;

export class MalformedMessage extends Error {
  constructor(
    readonly subject: string,
    readonly kind: string,
    readonly detail: string,
  ) {
    super(`${subject}: malformed ${kind}: ${detail}`);
    this.name = "MalformedMessage";
  }
}

/** The `kind` message in `data`, received on `subject`; throws `MalformedMessage`. */
export function decodeMessage<K extends MessageKind>(kind: K, subject: string, data: Uint8Array): MessageOf<K> {
  return checkMessage(kind, subject, parseJson(kind, subject, data));
}

/** `value` (parsed JSON) if it is a valid `kind` message; throws `MalformedMessage`. */
export function checkMessage<K extends MessageKind>(kind: K, subject: string, value: unknown): MessageOf<K> {
  const validate = validators[kind] as Validator<MessageOf<K>>;
  if (!validate(value)) throw new MalformedMessage(subject, kind, describe(validate.errors ?? []));
  return value;
}

/** The JSON value in `data`; throws `MalformedMessage` (as a `kind`) when it is not JSON. */
export function parseJson(kind: string, subject: string, data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (error) {
    throw new MalformedMessage(subject, kind, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function encodeMessage(message: object): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(message));
}

function describe(errors: readonly SchemaError[]): string {
  if (!errors.length) return "does not match its schema";
  return errors.map(describeOne).join("; ");
}

/** `/params/durability must be equal to one of the allowed values ["sync","async","exit"]`. */
function describeOne(error: SchemaError): string {
  const allowed = error.params.allowedValues ?? error.params.allowedValue;
  const where = error.instancePath || "the message";
  return `${where} ${error.message ?? `fails ${error.keyword}`}${allowed === undefined ? "" : ` ${JSON.stringify(allowed)}`}`;
}
