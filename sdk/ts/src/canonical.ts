/** RFC 8785 JSON Canonicalization Scheme (JCS), the byte form every signature covers. */

import canonicalizeJcs from "canonicalize";

import { CanonicalizationError } from "./errors.js";

/** A JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * The RFC 8785 canonical JSON text of a JSON value.
 *
 * Requires plain JSON values only: null, booleans, finite numbers, strings without lone
 * surrogates, arrays, and plain objects. Anything else (undefined, functions, bigint, class
 * instances such as Date) is refused rather than silently converted, so what is signed is what
 * was given. Integers beyond 2**53 - 1 cannot be detected in JavaScript: keep them in strings.
 */
export function canonicalJson(value: unknown): string {
  checkJson(value, "$");
  let text: string | undefined;
  try {
    text = canonicalizeJcs(value);
  } catch (error) {
    throw new CanonicalizationError(`expected a JCS-representable value: ${(error as Error).message}`);
  }
  if (text === undefined) {
    throw new CanonicalizationError("expected a JSON value, got undefined");
  }
  return text;
}

/** The RFC 8785 canonical UTF-8 bytes of a JSON value; see canonicalJson. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalJson(value));
}

function checkJson(value: unknown, path: string): void {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new CanonicalizationError(`${path}: expected a finite number, got ${value}`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((element, index) => checkJson(element, `${path}[${index}]`));
    return;
  }
  if (typeof value === "object" && isPlainObject(value)) {
    for (const [key, member] of Object.entries(value)) {
      checkJson(member, `${path}.${key}`);
    }
    return;
  }
  const kind = typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
  throw new CanonicalizationError(`${path}: expected a JSON value, got ${kind}`);
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
