// @ts-check
/**
 * Send a few signed events to a geoledger ingest node and print what it answered.
 *
 * Environment:
 *   GEOLEDGER_URL       base URL of an ingest node, e.g. http://127.0.0.1:8080
 *   GEOLEDGER_TENANT    tenant id the key is registered for
 *   GEOLEDGER_KEY_FILE  the tenant's private key (PKCS8 PEM, as `geoledger keys create` writes it)
 *   GEOLEDGER_KEY_ID    optional: the key id the key was registered under (default: derived)
 *
 * Exit status: 0 when every event was accepted or a duplicate, 1 when one was not, 2 when the
 * events could not be sent at all. Run `npm run build` once first.
 */

import { randomBytes } from "node:crypto";

import { Client, GeoledgerError, loadPrivateKeyFile, Signer } from "@geoledger/sdk";

async function main() {
  const url = process.env.GEOLEDGER_URL;
  const tenant = process.env.GEOLEDGER_TENANT;
  const keyFile = process.env.GEOLEDGER_KEY_FILE;
  if (!url || !tenant || !keyFile) {
    console.error("error: set GEOLEDGER_URL, GEOLEDGER_TENANT and GEOLEDGER_KEY_FILE");
    return 2;
  }
  let answer;
  try {
    const signer = new Signer(loadPrivateKeyFile(keyFile), tenant, process.env.GEOLEDGER_KEY_ID || undefined);
    const run = randomBytes(6).toString("hex");
    const events = [1, 2, 3].map((n) =>
      signer.sign(`example-ts-${run}-${n}`, "example.order.created", {
        order: n,
        total: 10.5 * n,
        currency: "EUR",
        sdk: "ts",
      }),
    );
    answer = await new Client(url).send(events);
  } catch (error) {
    if (error instanceof GeoledgerError) {
      console.error(`error: ${error.message}`);
      return 2;
    }
    throw error;
  }
  for (const result of answer.results) {
    const extra = result.reason ? ` ${result.reason}: ${result.detail ?? ""}` : "";
    console.log(`${result.index} ${result.event_id} ${result.status}${extra}`);
  }
  if (answer.deprecation) {
    console.error(`warning: API deprecation notice: Deprecation=${answer.deprecation.deprecation} Sunset=${answer.deprecation.sunset}`);
  }
  return answer.allOk ? 0 : 1;
}

process.exitCode = await main();
