/** Ed25519 key material: generation, PKCS8 PEM loading, raw public keys and key ids. */

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";

import { KeyFormatError } from "./errors.js";

export const KEY_ID_PREFIX = "ed25519:";

// DER prefixes of RFC 8410 structures holding a raw Ed25519 seed (PKCS8) or public key (SPKI).
const PKCS8_SEED_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** A fresh random Ed25519 private key (RFC 8032 section 5.1.5). */
export function generatePrivateKey(): KeyObject {
  return generateKeyPairSync("ed25519").privateKey;
}

/** The private key whose RFC 8032 32-byte secret is `seed`. Meant for test keys. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) {
    throw new KeyFormatError(`expected a 32-byte seed, got ${seed.length} bytes`);
  }
  return createPrivateKey({ key: Buffer.concat([PKCS8_SEED_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** Read an unencrypted PKCS8 PEM Ed25519 private key, the format `geoledger keys create` writes. */
export function loadPrivateKeyPem(pem: string | Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: Buffer.from(pem), format: "pem" });
  } catch (error) {
    throw new KeyFormatError(`expected an unencrypted PKCS8 PEM private key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new KeyFormatError(`expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  }
  return key;
}

/** Read a PEM private key file; see loadPrivateKeyPem. */
export function loadPrivateKeyFile(path: string): KeyObject {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    throw new KeyFormatError(`cannot read private key file ${path}: ${(error as Error).message}`);
  }
  return loadPrivateKeyPem(data);
}

/** Unencrypted PKCS8 PEM, as `geoledger keys create` writes it. */
export function privateKeyToPem(key: KeyObject): string {
  return key.export({ format: "pem", type: "pkcs8" }).toString();
}

/** The public key of a private key (a public key is returned as is). */
export function publicKeyOf(key: KeyObject): KeyObject {
  return key.type === "private" ? createPublicKey(key) : key;
}

/** The raw 32-byte public key (RFC 8032 section 5.1.5 encoding). */
export function publicKeyBytes(key: KeyObject): Uint8Array {
  const der = publicKeyOf(key).export({ format: "der", type: "spki" });
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

/** The raw public key as unpadded base64url (43 characters). */
export function publicKeyToB64(key: KeyObject): string {
  return Buffer.from(publicKeyBytes(key)).toString("base64url");
}

/** Read a raw 32-byte public key written as strict unpadded base64url. */
export function publicKeyFromB64(text: string): KeyObject {
  const raw = decodeB64urlStrict(text, 32);
  if (raw === undefined) {
    throw new KeyFormatError(`expected 43 unpadded base64url characters (32 bytes), got ${JSON.stringify(text)}`);
  }
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });
}

/** "ed25519:" + the first 16 hex digits of SHA-256 of the raw public key. */
export function keyIdFor(key: KeyObject): string {
  return KEY_ID_PREFIX + createHash("sha256").update(publicKeyBytes(key)).digest("hex").slice(0, 16);
}

/**
 * Decode unpadded base64url of exactly `length` bytes, or undefined. Strict: padding, the
 * standard alphabet, whitespace and non-zero pad bits are refused, so each byte string has
 * exactly one accepted spelling (Buffer's own decoder accepts all of those).
 */
export function decodeB64urlStrict(text: string, length: number): Buffer | undefined {
  if (typeof text !== "string" || text.length !== Math.ceil((length * 8) / 6) || !/^[A-Za-z0-9_-]*$/.test(text)) {
    return undefined;
  }
  const raw = Buffer.from(text, "base64url");
  return raw.length === length && raw.toString("base64url") === text ? raw : undefined;
}
