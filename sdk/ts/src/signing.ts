/** Event signatures: Ed25519 (RFC 8032) over a domain-separated RFC 8785 canonical envelope. */

import { createHash, sign as edSign, verify as edVerify, type KeyObject } from "node:crypto";

import { canonicalBytes } from "./canonical.js";
import { envelopeOf, validateEnvelope, type Envelope, type SignedEvent } from "./envelope.js";
import { decodeB64urlStrict, publicKeyOf } from "./keys.js";

/** Prefix of every signing input, so an event signature can never pass for anything else. */
export const SIGNING_DOMAIN = new TextEncoder().encode("geoledger.event.v1\u0000");

/** RFC 8785 bytes of the envelope's six fields (a signature field, if present, is left out). */
export function canonicalEnvelope(envelope: Envelope): Uint8Array {
  return canonicalBytes(envelopeOf(envelope));
}

/** The bytes an event signature covers: SIGNING_DOMAIN + JCS(envelope). */
export function signingInput(envelope: Envelope): Uint8Array {
  return Buffer.concat([SIGNING_DOMAIN, canonicalEnvelope(envelope)]);
}

/** SHA-256 of the canonical envelope (no prefix, no signature): same key and digest means duplicate. */
export function contentDigest(envelope: Envelope): Uint8Array {
  return new Uint8Array(createHash("sha256").update(canonicalEnvelope(envelope)).digest());
}

/** Validate the envelope and return its Ed25519 signature (RFC 8032 section 5.1.6), unpadded base64url. */
export function sign(privateKey: KeyObject, envelope: Envelope): string {
  validateEnvelope(envelope);
  return edSign(null, signingInput(envelope), privateKey).toString("base64url");
}

/** The envelope's six fields plus its signature. */
export function signEvent(privateKey: KeyObject, envelope: Envelope): SignedEvent {
  return { ...envelopeOf(envelope), signature: sign(privateKey, envelope) };
}

/**
 * True only if `event.signature` is exactly 86 strict base64url characters (no padding, zero pad
 * bits) of a valid Ed25519 signature (RFC 8032 section 5.1.7) of the event's signing input.
 */
export function verify(publicKey: KeyObject, event: SignedEvent): boolean {
  const signature = decodeB64urlStrict(event.signature, 64);
  if (signature === undefined) {
    return false;
  }
  try {
    return edVerify(null, signingInput(event), publicKeyOf(publicKey), signature);
  } catch {
    return false;
  }
}
