/** Client against a real HTTP server on loopback: retries, batching, typed errors, deprecation notices. */

import assert from "node:assert/strict";
import { createPublicKey, verify as edVerify } from "node:crypto";
import { createServer } from "node:net";
import { afterEach, beforeEach, test } from "node:test";

import {
  BatchRejectedError,
  Client,
  EventNotFoundError,
  planBatches,
  privateKeyFromSeed,
  readSigningString,
  Reason,
  RetriesExhaustedError,
  Signer,
  UnexpectedResponseError,
  type ClientOptions,
  type SignedEvent,
} from "../src/index.js";
import { answerAll, startStub, status, type Stub } from "./stub.js";

const signer = new Signer(privateKeyFromSeed(new Uint8Array(32).fill(7)), "acme");
const quiet = { warn: () => {} };
const fast: ClientOptions = { retry: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 10 }, logger: quiet };

function events(count: number, start = 0): SignedEvent[] {
  return Array.from({ length: count }, (_, i) =>
    signer.sign(`evt-${start + i}`, "order.created", { n: start + i }, "2025-01-31T12:00:00Z"),
  );
}

let stub: Stub;
beforeEach(async () => {
  stub = await startStub();
});
afterEach(async () => {
  await stub.close();
});

test("two 503s then success resend the same batch", async () => {
  stub.script.push(status(503, "{}"), status(503, "{}"));
  const sent = events(3);
  const answer = await new Client(stub.url, fast).send(sent);
  assert.equal(answer.allOk, true);
  assert.deepEqual(
    answer.results.map((r) => [r.index, r.event_id, r.status]),
    [
      [0, "evt-0", "accepted"],
      [1, "evt-1", "accepted"],
      [2, "evt-2", "accepted"],
    ],
  );
  assert.equal(stub.requests.length, 3);
  assert.equal(new Set(stub.requests.map((r) => r.body)).size, 1);
  assert.equal(stub.requests[0]?.path, "/v1/events");
  assert.equal(stub.requests[0]?.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(stub.requests[0]?.body ?? "").events[0], sent[0]);
});

test("429 with Retry-After is retried", async () => {
  stub.script.push(status(429, "{}", { "retry-after": "0" }));
  assert.equal((await new Client(stub.url, fast).send(events(1))).allOk, true);
  assert.equal(stub.requests.length, 2);
});

test("a Retry-After over maxDelayMs is not retried sooner and is handed to the caller", async () => {
  stub.always = status(429, '{"error":{"code":"rate_limited","message":"slow down"}}', { "retry-after": "30" });
  await assert.rejects(new Client(stub.url, fast).send(events(1)), (error: unknown) => {
    assert.ok(error instanceof RetriesExhaustedError);
    assert.equal(error.attempts, 1);
    assert.equal(error.lastStatus, 429);
    assert.equal(error.retryAfterMs, 30_000);
    return true;
  });
  assert.equal(stub.requests.length, 1);
});

test("persistent 5xx exhausts retries", async () => {
  stub.always = status(502, "bad gateway");
  await assert.rejects(new Client(stub.url, fast).send(events(2)), (error: unknown) => {
    assert.ok(error instanceof RetriesExhaustedError);
    assert.equal(error.attempts, 4);
    assert.equal(error.lastStatus, 502);
    return true;
  });
  assert.equal(stub.requests.length, 4);
});

test("batch rejections are not retried", async () => {
  for (const code of [400, 413, 422]) {
    stub.requests.length = 0;
    stub.script.push(status(code, JSON.stringify({ error: { code: "batch.too_large", message: "expected <= 1000 events" } })));
    await assert.rejects(new Client(stub.url, fast).send(events(1)), (error: unknown) => {
      assert.ok(error instanceof BatchRejectedError);
      assert.equal(error.status, code);
      assert.equal(error.code, "batch.too_large");
      assert.equal(error.detail, "expected <= 1000 events");
      return true;
    });
    assert.equal(stub.requests.length, 1);
  }
});

test("other 4xx is unexpected and not retried", async () => {
  stub.script.push(status(401, "{}"));
  await assert.rejects(new Client(stub.url, fast).send(events(1)), UnexpectedResponseError);
  assert.equal(stub.requests.length, 1);
});

test("a timeout is retried", async () => {
  // The first answer never comes in time; generous margins keep this stable on a loaded machine.
  stub.script.push(() => new Promise<void>(() => {}));
  const answer = await new Client(stub.url, { ...fast, timeoutMs: 250 }).send(events(1));
  assert.equal(answer.allOk, true);
  assert.equal(stub.requests.length, 2);
});

test("connection refused exhausts retries", async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  await assert.rejects(new Client(`http://127.0.0.1:${port}`, fast).send(events(1)), (error: unknown) => {
    assert.ok(error instanceof RetriesExhaustedError);
    assert.equal(error.lastStatus, undefined);
    assert.ok(error.cause instanceof Error);
    return true;
  });
});

test("large sends are split into batches of 1000 and renumbered", async () => {
  const answer = await new Client(stub.url, fast).send(events(2500));
  assert.deepEqual(
    stub.requests.map((r) => JSON.parse(r.body).events.length),
    [1000, 1000, 500],
  );
  assert.deepEqual(
    answer.results.map((r) => r.index),
    Array.from({ length: 2500 }, (_, i) => i),
  );
  assert.equal(answer.results[2499]?.event_id, "evt-2499");
});

test("batches respect the byte limit", () => {
  const big = Array.from({ length: 20 }, (_, n) =>
    signer.sign(`evt-${n}`, "blob", { b: "x".repeat(250_000) }, "2025-01-31T12:00:00Z"),
  );
  const batches = planBatches(big);
  assert.deepEqual(
    batches.map((b) => [b.offset, b.events.length]),
    [
      [0, 16],
      [16, 4],
    ],
  );
  for (const batch of batches) {
    assert.ok(Buffer.byteLength(batch.body) <= 4 * 1024 * 1024);
    JSON.parse(batch.body);
  }
});

test("an error in a later batch keeps completed results", async () => {
  stub.script.push((r, b) => answerAll(r, b), status(422, '{"error":{"code":"schema","message":"bad"}}'));
  await assert.rejects(new Client(stub.url, fast).send(events(1500)), (error: unknown) => {
    assert.ok(error instanceof BatchRejectedError);
    assert.equal(error.completed.length, 1000);
    assert.equal(error.completed[999]?.event_id, "evt-999");
    return true;
  });
});

test("per-event statuses and mismatched answers", async () => {
  stub.script.push(
    (r, b) => answerAll(r, b, ["duplicate", "rejected"], "signature.invalid"),
    status(200, '{"results":[]}'),
  );
  const client = new Client(stub.url, fast);
  const answer = await client.send(events(2));
  assert.equal(answer.allOk, false);
  assert.deepEqual(
    answer.results.map((r) => [r.status, r.reason]),
    [
      ["duplicate", null],
      ["rejected", Reason.SIGNATURE_INVALID],
    ],
  );
  await assert.rejects(client.send(events(1)), UnexpectedResponseError);
});

test("deprecation headers are exposed and logged once", async () => {
  stub.always = (response, body) => {
    response.setHeader("deprecation", "@1735689600");
    response.setHeader("sunset", "Wed, 31 Dec 2025 23:59:59 GMT");
    answerAll(response, body);
  };
  const warnings: string[] = [];
  const client = new Client(stub.url, { ...fast, logger: { warn: (m) => warnings.push(m) } });
  const first = await client.send(events(1));
  await client.send(events(1, 1));
  assert.equal(first.deprecation?.deprecation, "@1735689600");
  assert.equal(first.deprecation?.sunset, "Wed, 31 Dec 2025 23:59:59 GMT");
  assert.deepEqual(client.deprecation, first.deprecation);
  assert.equal(warnings.length, 1);
});

test("no deprecation without headers", async () => {
  const client = new Client(stub.url, fast);
  assert.equal((await client.send(events(1))).deprecation, undefined);
  assert.equal(client.deprecation, undefined);
});

test("getEvent", async () => {
  const stored = { tenant_id: "acme", event_id: "evt-0", payload: { n: 0 } };
  stub.script.push(status(503, ""), status(200, JSON.stringify(stored)), status(404, "{}"));
  const client = new Client(stub.url, { ...fast, signer });
  assert.deepEqual(await client.getEvent("acme", "evt-0"), stored);
  await assert.rejects(client.getEvent("acme", "evt/unknown"), EventNotFoundError);
  assert.equal(stub.requests[1]?.method, "GET");
  assert.equal(stub.requests[1]?.path, "/v1/events/acme/evt-0");
  assert.equal(stub.requests[2]?.path, "/v1/events/acme/evt%2Funknown");
  assertSignedRead(String(stub.requests[2]?.headers.authorization), "/v1/events/acme/evt%2Funknown");
});

/** The header is `signer`'s signature of a GET of `path` with an empty body, at a ts now. */
function assertSignedRead(authorization: string, path: string): void {
  const match = /^GEOLEDGER-ED25519 key_id=([^,]+), ts=(\d+), sig=(\S+)$/.exec(authorization);
  assert.ok(match, authorization);
  const [, keyId, ts, sig] = match;
  assert.equal(keyId, signer.keyId);
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60);
  const message = Buffer.from(readSigningString("GET", path, new Uint8Array(), Number(ts), signer.keyId), "ascii");
  assert.ok(edVerify(null, message, createPublicKey(signer.privateKey), Buffer.from(String(sig), "base64url")));
}
