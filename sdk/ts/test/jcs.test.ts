/** RFC 8785 canonicalization against the shared JCS vectors (input/*.json -> output/*.json). */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { canonicalBytes, canonicalJson, CanonicalizationError } from "../src/index.js";
import { sharedDir } from "./data.js";

const jcsDir = join(sharedDir(), "vectors", "jcs");

test("shared vectors are present", () => {
  const inputs = readdirSync(join(jcsDir, "input")).filter((name) => name.endsWith(".json"));
  assert.ok(inputs.length >= 6, `expected the RFC 8785 vectors under ${jcsDir}; set GEOLEDGER_SHARED_DIR`);
});

for (const name of readdirSync(join(jcsDir, "input")).filter((n) => n.endsWith(".json"))) {
  test(`shared JCS vector ${name}`, () => {
    const input: unknown = JSON.parse(readFileSync(join(jcsDir, "input", name), "utf8"));
    const expected = readFileSync(join(jcsDir, "output", name));
    assert.deepEqual(Buffer.from(canonicalBytes(input)), expected);
  });
}

test("values with no JCS form are refused", () => {
  const bad: unknown[] = [NaN, Infinity, "\ud800", { k: undefined }, [() => 1], 10n, new Date(0), { "\udc00": 1 }];
  for (const value of bad) {
    assert.throws(() => canonicalJson(value), CanonicalizationError, String(value));
  }
});

test("negative zero and member order", () => {
  // U+1F602 is D83D DE02 in UTF-16, so it sorts before U+FB33 although its code point is larger.
  const expected = '{"a":[1e+21,1e-7],"b":0,"\u{1f602}":1,"\ufb33":2}';
  assert.equal(canonicalJson({ "\ufb33": 2, b: -0, a: [1e21, 1e-7], "\u{1f602}": 1 }), expected);
});
