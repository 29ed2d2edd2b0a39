/** Paths of the shared test data: golden vectors in this repository, RFC 8785 vectors in ../shared. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Compiled tests run from build/test/; the package root is two levels up.
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const REPO_ROOT = join(PACKAGE_ROOT, "..", "..");

export function sharedDir(): string {
  return process.env.GEOLEDGER_SHARED_DIR ?? join(REPO_ROOT, "..", "shared");
}

export interface Recipe {
  kind: string;
  key: string;
  char: string;
  count: number;
}

export function materialize(recipe: Recipe): Record<string, string> {
  if (recipe.kind !== "repeat") {
    throw new Error(`unknown recipe kind ${recipe.kind}`);
  }
  return { [recipe.key]: recipe.char.repeat(recipe.count) };
}

export interface Variant {
  name: string;
  envelope?: Record<string, unknown>;
  payload_merge?: Record<string, unknown>;
  payload_recipe?: Recipe;
  signature?: string;
  public_key?: string;
  valid: boolean;
}

export interface Case {
  name: string;
  key: string;
  public_key: string;
  key_id: string;
  envelope: Record<string, unknown>;
  payload_recipe?: Recipe;
  canonical_hex?: string;
  signing_input_hex?: string;
  canonical_sha256?: string;
  signing_input_sha256?: string;
  canonical_size: number;
  payload_canonical_size: number;
  signature: string;
  content_digest_hex: string;
  valid: boolean;
  tampered: Variant[];
}

export interface ReadCase {
  name: string;
  key: string;
  key_id: string;
  method: string;
  path: string;
  body_hex: string;
  ts: number;
  canonical: string;
  signature: string;
  authorization: string;
}

export interface Golden {
  generated_by: string;
  format: number;
  signing_domain_hex: string;
  keys: { name: string; seed_hex: string; private_key_pem: string; public_key: string; key_id: string }[];
  numbers: { ieee754: string; canonical: string }[];
  cases: Case[];
  invalid_envelopes: {
    name: string;
    envelope: Record<string, unknown>;
    payload_recipe?: Recipe;
    typed_integers_only?: boolean;
    field: string;
  }[];
  read_requests: { version: string; scheme: string; cases: ReadCase[] };
}

export function loadGolden(): Golden {
  return JSON.parse(readFileSync(join(REPO_ROOT, "sdk", "golden", "vectors.json"), "utf8")) as Golden;
}
