/** Signed reads reproduce the golden read_requests (sdk/golden/vectors.json) byte for byte. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { AUTH_SCHEME, privateKeyFromSeed, READ_SIGNING_VERSION, readSigningString, signRead, Signer } from "../src/index.js";
import { loadGolden } from "./data.js";

const golden = loadGolden();
const reads = golden.read_requests;
const seeds = new Map(golden.keys.map((key) => [key.name, key.seed_hex]));

test("read_requests header", () => {
  assert.equal(reads.version, READ_SIGNING_VERSION);
  assert.equal(reads.scheme, AUTH_SCHEME);
  assert.ok(reads.cases.length >= 4);
});

for (const c of reads.cases) {
  test(`read case ${c.name}`, () => {
    const key = privateKeyFromSeed(Buffer.from(seeds.get(c.key) ?? "", "hex"));
    const body = Buffer.from(c.body_hex, "hex");
    assert.equal(readSigningString(c.method, c.path, body, c.ts, c.key_id), c.canonical);
    assert.equal(signRead(key, c.key_id, c.method, c.path, body, c.ts), c.authorization);
    const signer = new Signer(key, "acme");
    assert.equal(signer.keyId, c.key_id);
    assert.equal(signer.authorizeRead(c.method, c.path, body, c.ts), c.authorization);
  });
}

test("request parts no signature could tell apart are refused", () => {
  for (const [method, path, keyId] of [
    ["get", "/v1/events/a/b", "k"],
    ["GET", "v1/events/a/b", "k"],
    ["GET", "/v1/events/a/b?x=1", "k"],
    ["GET", "/v1/events/a b", "k"],
    ["GET", "/v1/events/a/b", "k,1"],
  ] as const) {
    assert.throws(() => readSigningString(method, path, new Uint8Array(), 0, keyId), RangeError);
  }
});
