/**
 * Signed reads: a GET /v1/events/{tenant}/{id} carries
 * `Authorization: GEOLEDGER-ED25519 key_id=<key id>, ts=<unix seconds>, sig=<unpadded base64url>`,
 * sig being Ed25519 over the canonical request string
 * "geoledger-read-v1" LF METHOD LF path LF hex(SHA-256(body)) LF ts LF key_id (ASCII; the path
 * exactly as sent, percent-encoded, without a query). The server accepts ts within its
 * [reads] max_skew_s (default 300 s) of its clock.
 */

import { createHash, sign as edSign, type KeyObject } from "node:crypto";

export const READ_SIGNING_VERSION = "geoledger-read-v1";
export const AUTH_SCHEME = "GEOLEDGER-ED25519";

const METHOD = /^[A-Z]+$/;
const PATH = /^\/[\x21\x22\x24-\x3e\x40-\x7e]*$/;
const KEY_ID = /^[\x21-\x2b\x2d-\x7e]+$/;

/**
 * The canonical request string of a read. Throws RangeError for a method that is not upper-case
 * letters, a path that is not percent-encoded visible ASCII starting with '/' (or holds '?' or
 * '#'), a ts that is not a whole number >= 0, or a key id with ',' or non-visible characters.
 */
export function readSigningString(method: string, path: string, body: Uint8Array, ts: number, keyId: string): string {
  if (!METHOD.test(method)) {
    throw new RangeError(`method: expected upper-case letters, got ${JSON.stringify(method)}`);
  }
  if (!PATH.test(path)) {
    throw new RangeError(`path: expected a percent-encoded path starting with '/', got ${JSON.stringify(path)}`);
  }
  if (!Number.isSafeInteger(ts) || ts < 0) {
    throw new RangeError(`ts: expected Unix seconds >= 0, got ${ts}`);
  }
  if (!KEY_ID.test(keyId)) {
    throw new RangeError(`key_id: expected visible ASCII without ',', got ${JSON.stringify(keyId)}`);
  }
  const digest = createHash("sha256").update(body).digest("hex");
  return [READ_SIGNING_VERSION, method, path, digest, String(ts), keyId].join("\n");
}

/** The Authorization header value signing this request with `privateKey` (registered as `keyId`); `ts` defaults to now. */
export function signRead(
  privateKey: KeyObject,
  keyId: string,
  method: string,
  path: string,
  body: Uint8Array = new Uint8Array(),
  ts: number = Math.floor(Date.now() / 1000),
): string {
  const message = Buffer.from(readSigningString(method, path, body, ts, keyId), "ascii");
  const signature = edSign(null, message, privateKey).toString("base64url");
  return `${AUTH_SCHEME} key_id=${keyId}, ts=${ts}, sig=${signature}`;
}
