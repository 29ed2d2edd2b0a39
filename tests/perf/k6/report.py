"""The k6 run's figures as ratios: each ring's ramp against the baseline measured on the same
nodes just before it (one VU per region), and each ring's ramp events/s against the first ring's.
Reads what ingest.js's handleSummary wrote; prints the table `make perf` shows."""

from __future__ import annotations

from typing import Any

from tests.perf._stack import verdict

LATENCIES = ("p50_ms", "p95_ms", "p99_ms")


def ratio(value: float, baseline: float) -> float | None:
    return value / baseline if baseline else None


def ring_figures(ring: int, baseline: dict[str, Any], ramp: dict[str, Any]) -> dict[str, Any]:
    """Per region: the baseline's and the ramp's figures, and ramp / baseline for each latency
    percentile and for events/s."""
    regions: dict[str, Any] = {}
    for region, under_load in ramp["regions"].items():
        alone = baseline["regions"][region]
        regions[region] = {
            "baseline": alone,
            "ramp": under_load,
            "ratios": {
                name: ratio(under_load[name], alone[name]) for name in (*LATENCIES, "events_per_s")
            },
        }
    return {
        "ring": ring,
        "peak_vus": ramp["peak_vus"],
        "ramp_s": ramp["duration_s"],
        "regions": regions,
        "thresholds": {"baseline": baseline["thresholds"], "ramp": ramp["thresholds"]},
    }


def _times(value: float | None) -> str:
    return f"{value:5.2f}x" if value is not None else "   n/a"


def print_report(rings: list[dict[str, Any]], p99_ms: float) -> dict[str, Any]:
    """Print every ring's figures and ratios; the whole summary (with each ring's ramp events/s
    against the first ring's) for summary.json."""
    first = rings[0]
    print(f"\n== k6 ingest load (ramp vs 1-VU baseline; target p99 < {p99_ms:g} ms)")
    for figures in rings:
        print(f"ring of {figures['ring']} shards, up to {figures['peak_vus']} VUs per region:")
        for region, seen in figures["regions"].items():
            alone, load, ratios = seen["baseline"], seen["ramp"], seen["ratios"]
            across = ratio(load["events_per_s"], first["regions"][region]["ramp"]["events_per_s"])
            seen["events_per_s_vs_first_ring"] = across
            print(
                f"  {region} baseline: p50 {alone['p50_ms']:7.1f}  p95 {alone['p95_ms']:7.1f}"
                f"  p99 {alone['p99_ms']:7.1f} ms  {alone['events_per_s']:8.0f} events/s"
            )
            print(
                f"  {region} ramp:     p50 {load['p50_ms']:7.1f}  p95 {load['p95_ms']:7.1f}"
                f"  p99 {load['p99_ms']:7.1f} ms  {load['events_per_s']:8.0f} events/s"
                f"  ({load['events_accepted']:.0f} accepted, {load['events_duplicate']:.0f}"
                f" duplicate) {verdict(load['p99_ms'] < p99_ms)}"
            )
            p50, p95, p99 = (_times(ratios[name]) for name in LATENCIES)
            print(
                f"  {region} ratios:   p50 {p50}  p95 {p95}  p99 {p99}"
                f"     events/s {_times(ratios['events_per_s'])}"
                f" of baseline, {_times(across)} of ring {first['ring']}"
            )
            if load["batches_wrapped"]:
                print(
                    f"  {region}: {load['batches_wrapped']:.0f} batches sent again from the start"
                    " (all repeats): raise GEOLEDGER_K6_EVENTS for a run this long"
                )
    return {"p99_target_ms": p99_ms, "rings": rings}
