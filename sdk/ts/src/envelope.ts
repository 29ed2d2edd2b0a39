/** The event envelope and the signed event, with the field rules the server enforces. */

import { canonicalBytes, type JsonValue } from "./canonical.js";
import { CanonicalizationError, InvalidEventError } from "./errors.js";

/** Largest canonical (RFC 8785) size of a payload, in bytes. */
export const MAX_PAYLOAD_BYTES = 262144;

/** The six fields a signature covers, and the only ones in an envelope. */
export const ENVELOPE_FIELDS = ["tenant_id", "event_id", "key_id", "occurred_at", "type", "payload"] as const;

/** What a client signs. `occurred_at` is signed verbatim: keep the exact string. */
export interface Envelope {
  tenant_id: string;
  event_id: string;
  key_id: string;
  occurred_at: string;
  type: string;
  payload: { [key: string]: JsonValue };
}

/** An envelope plus its Ed25519 signature (unpadded base64url): the wire form of an event. */
export interface SignedEvent extends Envelope {
  signature: string;
}

const TENANT_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const IDENTIFIER = /^[A-Za-z0-9._:-]{1,128}$/;
// RFC 3339 section 5.6 date-time with a mandatory offset; "T" and "Z" may be lower case;
// fractions up to nanoseconds, as the server accepts.
const RFC3339 =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?([Zz]|[+-]([0-9]{2}):([0-9]{2}))$/;
const CONTROL = /\p{Cc}/u;
const MAX_TYPE_CHARS = 128;

/** The envelope's six fields only (a signed event's signature dropped), in a fresh object. */
export function envelopeOf(event: Envelope): Envelope {
  return {
    tenant_id: event.tenant_id,
    event_id: event.event_id,
    key_id: event.key_id,
    occurred_at: event.occurred_at,
    type: event.type,
    payload: event.payload,
  };
}

/** Throw InvalidEventError naming the first field of `envelope` that breaks a rule. */
export function validateEnvelope(envelope: Envelope): void {
  checkString("tenant_id", envelope.tenant_id, TENANT_ID, "1-64 of [a-z0-9._-] starting a-z0-9");
  checkString("event_id", envelope.event_id, IDENTIFIER, "1-128 of [A-Za-z0-9._:-]");
  checkString("key_id", envelope.key_id, IDENTIFIER, "1-128 of [A-Za-z0-9._:-]");
  checkOccurredAt(envelope.occurred_at);
  checkType(envelope.type);
  checkPayload(envelope.payload);
}

/** Read an envelope from a decoded JSON object holding exactly the six fields, and validate it. */
export function parseEnvelope(value: unknown): Envelope {
  const object = exactObject(value, ENVELOPE_FIELDS);
  const envelope = envelopeOf(object as unknown as Envelope);
  validateEnvelope(envelope);
  return envelope;
}

/** Read a signed event (the six fields and "signature") and validate its envelope; the signature is not checked. */
export function parseSignedEvent(value: unknown): SignedEvent {
  const object = exactObject(value, [...ENVELOPE_FIELDS, "signature"]);
  const envelope = envelopeOf(object as unknown as Envelope);
  validateEnvelope(envelope);
  if (typeof object.signature !== "string") {
    throw new InvalidEventError("signature", `expected a string, got ${kindOf(object.signature)}`);
  }
  return { ...envelope, signature: object.signature };
}

function exactObject(value: unknown, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidEventError("event", `expected a JSON object, got ${kindOf(value)}`);
  }
  const object = value as Record<string, unknown>;
  const missing = fields.filter((name) => !Object.hasOwn(object, name));
  if (missing.length > 0) {
    throw new InvalidEventError(missing[0] as string, `${missing[0]} is required; missing ${missing.join(", ")}`);
  }
  const extra = Object.keys(object).filter((name) => !fields.includes(name));
  if (extra.length > 0) {
    throw new InvalidEventError("event", `unexpected fields ${extra.join(", ")}; expected exactly ${fields.join(", ")}`);
  }
  return object;
}

function checkString(field: string, value: unknown, pattern: RegExp, rule: string): void {
  if (typeof value !== "string") {
    throw new InvalidEventError(field, `expected a string, got ${kindOf(value)}`);
  }
  if (!pattern.test(value)) {
    throw new InvalidEventError(field, `expected ${rule}, got ${JSON.stringify(value)}`);
  }
}

function checkOccurredAt(value: unknown): void {
  if (typeof value !== "string") {
    throw new InvalidEventError("occurred_at", `expected a string, got ${kindOf(value)}`);
  }
  const match = RFC3339.exec(value);
  if (match === null) {
    throw new InvalidEventError("occurred_at", `expected an RFC 3339 date-time with offset, got ${JSON.stringify(value)}`);
  }
  const n = (index: number): number => Number(match[index] ?? 0);
  const [year, month, day] = [n(1), n(2), n(3)];
  const valid =
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(year, month) &&
    n(4) <= 23 &&
    n(5) <= 59 &&
    n(6) <= 60 &&
    n(9) <= 23 &&
    n(10) <= 59;
  if (!valid) {
    throw new InvalidEventError("occurred_at", `expected a real date-time, got ${JSON.stringify(value)}`);
  }
}

function daysIn(year: number, month: number): number {
  if (month === 2) {
    return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function checkType(value: unknown): void {
  if (typeof value !== "string") {
    throw new InvalidEventError("type", `expected a string, got ${kindOf(value)}`);
  }
  const codePoints = [...value];
  if (codePoints.length < 1 || codePoints.length > MAX_TYPE_CHARS) {
    throw new InvalidEventError("type", `expected 1-${MAX_TYPE_CHARS} characters, got ${codePoints.length}`);
  }
  codePoints.forEach((char, position) => {
    const code = char.codePointAt(0) ?? 0;
    // A lone surrogate has no UTF-8 form, so it could never be signed or sent.
    if (CONTROL.test(char) || (code >= 0xd800 && code <= 0xdfff)) {
      const hex = code.toString(16).toUpperCase().padStart(4, "0");
      throw new InvalidEventError("type", `expected no control characters or lone surrogates, got U+${hex} at position ${position}`);
    }
  });
}

function checkPayload(value: unknown): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidEventError("payload", `expected a JSON object, got ${kindOf(value)}`);
  }
  let size: number;
  try {
    size = canonicalBytes(value).length;
  } catch (error) {
    if (error instanceof CanonicalizationError) {
      throw new InvalidEventError("payload", error.message);
    }
    throw error;
  }
  if (size > MAX_PAYLOAD_BYTES) {
    throw new InvalidEventError("payload", `expected at most ${MAX_PAYLOAD_BYTES} canonical bytes, got ${size}`);
  }
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}
