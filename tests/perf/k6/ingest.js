// Load on both regions' ingest nodes: POST /v1/events with pre-signed batches (presign.py wrote
// them; k6's WebCrypto has no Ed25519), one scenario per region, each region's node getting the
// same batches in the same order (the regions' dedup stores are apart, so each sees them fresh).
//
// GEOLEDGER_K6_MODE=baseline: one VU per region posts GEOLEDGER_K6_BASELINE_BATCHES batches (the
// figure the ramp is divided by). GEOLEDGER_K6_MODE=ramp: VUs per region ramp to GEOLEDGER_K6_VUS
// and back over GEOLEDGER_K6_RAMP_S seconds. Either starts at batch GEOLEDGER_K6_OFFSET, after
// the batches sent before it. Every event must be answered accepted or duplicate.
// handleSummary writes GEOLEDGER_K6_SUMMARY_DIR/<mode>.json (p50/p95/p99, batches, events per
// scenario) and prints the figures. tests/perf/k6/run.py (`make perf`) starts the nodes and runs
// this script.

import exec from "k6/execution";
import http from "k6/http";
import { check } from "k6";
import { Counter } from "k6/metrics";
import { SharedArray } from "k6/data";

function required(name) {
  const value = __ENV[name];
  if (!value) throw new Error(`${name} is not set (tests/perf/k6/run.py sets it)`);
  return value;
}

const MODE = __ENV.GEOLEDGER_K6_MODE || "ramp";
const TARGETS = JSON.parse(required("GEOLEDGER_K6_TARGETS"));
const REGIONS = Object.keys(TARGETS).sort();
const BASELINE_BATCHES = parseInt(__ENV.GEOLEDGER_K6_BASELINE_BATCHES || "50", 10);
const OFFSET = parseInt(__ENV.GEOLEDGER_K6_OFFSET || "0", 10);
const PEAK_VUS = parseInt(__ENV.GEOLEDGER_K6_VUS || "8", 10);
const RAMP_S = parseFloat(__ENV.GEOLEDGER_K6_RAMP_S || "30");
const P99_MS = parseFloat(__ENV.GEOLEDGER_K6_P99_MS || "1000");
const OUT = __ENV.GEOLEDGER_K6_SUMMARY_DIR || ".";
const LABEL = __ENV.GEOLEDGER_K6_LABEL || "";

if (MODE !== "baseline" && MODE !== "ramp") {
  throw new Error(`GEOLEDGER_K6_MODE must be baseline or ramp, got ${MODE}`);
}

// Loaded once and shared read-only by every VU.
const batches = new SharedArray("batches", function () {
  return JSON.parse(open(required("GEOLEDGER_K6_EVENTS"))).batches;
});

const accepted = new Counter("geoledger_k6_events_accepted");
const duplicate = new Counter("geoledger_k6_events_duplicate");
const failed = new Counter("geoledger_k6_events_failed");
const fresh = new Counter("geoledger_k6_events_fresh");
// Batches sent again from the start because the file ran out: their fresh events are repeats.
const wrapped = new Counter("geoledger_k6_batches_wrapped");

function seconds(fraction) {
  return `${Math.max(1, Math.round(RAMP_S * fraction))}s`;
}

function scenario(region) {
  const common = { exec: "post", env: { REGION: region }, tags: { region } };
  if (MODE === "baseline") {
    return {
      ...common,
      executor: "per-vu-iterations",
      vus: 1,
      iterations: BASELINE_BATCHES,
      maxDuration: "120s",
    };
  }
  return {
    ...common,
    executor: "ramping-vus",
    startVUs: 1,
    // Up to half the peak, up to the peak, held, then down: latency is seen at each load.
    stages: [
      { duration: seconds(0.25), target: Math.max(1, Math.floor(PEAK_VUS / 2)) },
      { duration: seconds(0.25), target: PEAK_VUS },
      { duration: seconds(0.35), target: PEAK_VUS },
      { duration: seconds(0.15), target: 0 },
    ],
    gracefulRampDown: "10s",
  };
}

// A threshold on a scenario's submetric is what makes k6 keep that submetric for the summary.
function thresholds() {
  const all = {};
  for (const region of REGIONS) {
    const only = `{scenario:${region}}`;
    all[`http_req_duration${only}`] = [`p(99)<${P99_MS}`];
    all[`http_reqs${only}`] = ["count>0"];
    all[`checks${only}`] = ["rate==1"];
    all[`geoledger_k6_events_failed${only}`] = ["count==0"];
    all[`geoledger_k6_events_accepted${only}`] = ["count>0"];
    all[`geoledger_k6_events_duplicate${only}`] = ["count>=0"];
    all[`geoledger_k6_events_fresh${only}`] = ["count>0"];
    all[`geoledger_k6_batches_wrapped${only}`] = ["count>=0"];
  }
  return all;
}

export const options = {
  scenarios: Object.fromEntries(REGIONS.map((region) => [region, scenario(region)])),
  thresholds: thresholds(),
  summaryTrendStats: ["avg", "min", "med", "p(95)", "p(99)", "max"],
};

function nextBatch() {
  const index = OFFSET + exec.scenario.iterationInTest;
  if (index < batches.length) return batches[index];
  wrapped.add(1);
  return batches[OFFSET + ((index - OFFSET) % (batches.length - OFFSET))];
}

export function post() {
  const region = __ENV.REGION;
  const batch = nextBatch();
  const res = http.post(`${TARGETS[region]}/v1/events`, batch.body, {
    headers: { "Content-Type": "application/json" },
    tags: { name: "POST /v1/events" },
  });
  fresh.add(batch.fresh);
  let counts = { accepted: 0, duplicate: 0 };
  if (res.status === 200) {
    for (const result of JSON.parse(res.body).results) {
      if (result.status in counts) counts[result.status] += 1;
    }
  }
  accepted.add(counts.accepted);
  duplicate.add(counts.duplicate);
  failed.add(batch.events - counts.accepted - counts.duplicate);
  check(res, {
    "HTTP 200": (r) => r.status === 200,
    "every event accepted or duplicate": () =>
      counts.accepted + counts.duplicate === batch.events,
  });
}

function metricValue(data, name, region, stat) {
  const metric = data.metrics[`${name}{scenario:${region}}`];
  return metric ? metric.values[stat] : 0;
}

function regionFigures(data, region) {
  const seconds = data.state.testRunDurationMs / 1000;
  const count = (name) => metricValue(data, name, region, "count");
  const answered = count("geoledger_k6_events_accepted") + count("geoledger_k6_events_duplicate");
  return {
    p50_ms: metricValue(data, "http_req_duration", region, "med"),
    p95_ms: metricValue(data, "http_req_duration", region, "p(95)"),
    p99_ms: metricValue(data, "http_req_duration", region, "p(99)"),
    max_ms: metricValue(data, "http_req_duration", region, "max"),
    batches: count("http_reqs"),
    events_accepted: count("geoledger_k6_events_accepted"),
    events_duplicate: count("geoledger_k6_events_duplicate"),
    events_failed: count("geoledger_k6_events_failed"),
    events_fresh: count("geoledger_k6_events_fresh"),
    batches_wrapped: count("geoledger_k6_batches_wrapped"),
    events_per_s: answered / seconds,
  };
}

function thresholdsMet(data) {
  const outcome = {};
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [expression, result] of Object.entries(metric.thresholds || {})) {
      outcome[`${name}: ${expression}`] = result.ok;
    }
  }
  return outcome;
}

function fixed(value, digits) {
  return Number(value).toFixed(digits).padStart(9);
}

export function handleSummary(data) {
  const regions = Object.fromEntries(REGIONS.map((r) => [r, regionFigures(data, r)]));
  const summary = {
    label: LABEL,
    mode: MODE,
    duration_s: data.state.testRunDurationMs / 1000,
    peak_vus: MODE === "baseline" ? 1 : PEAK_VUS,
    regions,
    thresholds: thresholdsMet(data),
  };
  const lines = [`k6 ${LABEL} ${MODE}: ${summary.duration_s.toFixed(1)} s`];
  for (const [region, f] of Object.entries(regions)) {
    lines.push(
      `  ${region}: p50 ${fixed(f.p50_ms, 1)} ms  p95 ${fixed(f.p95_ms, 1)} ms` +
        `  p99 ${fixed(f.p99_ms, 1)} ms  ${fixed(f.events_per_s, 0)} events/s` +
        `  (${f.batches} batches, ${f.events_accepted} accepted, ` +
        `${f.events_duplicate} duplicate, ${f.events_failed} failed)`,
    );
  }
  return {
    stdout: lines.join("\n") + "\n",
    [`${OUT}/${MODE}.json`]: JSON.stringify(summary, null, 2),
  };
}
