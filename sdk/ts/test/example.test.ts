/** examples/send-events.mjs as a program, against the loopback ingest stub. */

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { generatePrivateKey, privateKeyToPem } from "../src/index.js";
import { PACKAGE_ROOT } from "./data.js";
import { answerAll, startStub } from "./stub.js";

function runExample(url: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const keyDir = mkdtempSync(join(tmpdir(), "geoledger-example-"));
  const keyFile = join(keyDir, "acme.pem");
  writeFileSync(keyFile, privateKeyToPem(generatePrivateKey()));
  const env = { ...process.env, GEOLEDGER_URL: url, GEOLEDGER_TENANT: "acme", GEOLEDGER_KEY_FILE: keyFile };
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PACKAGE_ROOT, "examples", "send-events.mjs")], { env }, (error, stdout, stderr) => {
      rmSync(keyDir, { recursive: true, force: true });
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

test("the example exits 0 when every event is accepted", async () => {
  const stub = await startStub();
  try {
    const { code, stdout, stderr } = await runExample(stub.url);
    assert.equal(code, 0, stderr);
    const lines = stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.ok(lines.every((line) => line.endsWith(" accepted")));
    assert.equal(JSON.parse(stub.requests[0]?.body ?? "").events[0].tenant_id, "acme");
  } finally {
    await stub.close();
  }
});

test("the example exits 1 when an event is rejected", async () => {
  const stub = await startStub();
  stub.always = (response, body) => answerAll(response, body, ["accepted", "duplicate", "rejected"]);
  try {
    const { code, stdout } = await runExample(stub.url);
    assert.equal(code, 1);
    assert.ok(stdout.trim().split("\n")[2]?.endsWith(" rejected"));
  } finally {
    await stub.close();
  }
});
