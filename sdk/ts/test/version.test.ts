import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { VERSION } from "../src/index.js";
import { PACKAGE_ROOT } from "./data.js";

test("VERSION matches package.json", () => {
  const manifest = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string };
  assert.equal(VERSION, manifest.version);
});
