"""Tiering: demotion throughput against a same-run baseline, compression ratios on small records,
and read latency per tier with and without promotion.

Run: .venv/bin/python tests/perf/bench_tiering.py [--records 20000] [--reads 400]

The embedded stack on private ports; one fresh region (`us`: two dedup shards, packs in moto's
S3). `--records` real signed events (~560 bytes each) are applied to the dedup store, accepted a
year before the demotion's clock, so every body is past both TTLs.

- demotion: `demote_to_warm` then `demote_to_cold` (storage/tiering/demote.py, zstd level 3,
  the [tier_demotion] defaults: 500 rows a batch, packs of up to 32 MiB) over every shard, batch
  after batch as the tiering worker runs them; records/s hot -> warm, warm -> cold and end to end.
- baseline: what any demotion must do at the least, on the same number of rows of another tenant:
  a raw SELECT of the bodies in key order, zstd of each body, one PUT of the concatenated blobs per
  shard (one pack) - no checks, no read-back, no UPDATE. Target: demotion >= 0.5x the baseline.
- compression: the ratio (raw bytes / stored bytes) of the same bodies compressed one by one, as
  a warm blob is: plain zstd (level 3), zstd with a 16 KiB dictionary trained on 2,000 other
  bodies of the tenant, gzip (level 6). Target: dictionary >= 1.5x plain zstd on records < 1 KiB.
- reads: `DedupStore.get_event` (the API's GET) of `--reads` keys per tier, one at a time:
  hot, warm (decode + check), cold (one range GET on the local S3 + decode + check), first with
  the tenant's promote_on_read off, then on (each read then also writes the body back hot).
  p50 / p99 in ms. Target: cold p99 <= 50 ms without promotion.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import zstandard

# Run as a script (`make bench`): the repository root must be importable for `tests.perf`.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ledger.config import RegionConfig, Settings
from ledger.demotion_batch import DemotionBatch
from ledger.tier_policy import TierPolicy, TierPolicyOverride
from storage.dedup import DedupRecord, DedupStore
from storage.dedup.from_wal import dedup_record_from
from storage.objectstore import ObjectStore, open_object_store
from storage.tiering.demote import DAY_MS, demote_to_cold, demote_to_warm
from storage.tiering.demotion_rows import START
from storage.tiering.dictionaries import DictionaryStore, train_dictionary
from storage.tiering.dictionary_records import record_pack_dictionaries
from storage.tiering.policy_store import set_fields
from storage.tiering.reader import TierReadOptions
from tests.perf._stack import (
    BenchFailure,
    BenchStack,
    bench_tenant,
    percentile,
    run_async,
    sign_events,
    verdict,
    wal_record_of,
)

HLC0 = 1_700_000_000_000 << 16  # accepted_at_ms = HLC0 >> 16, a fixed moment
AS_OF_MS = (HLC0 >> 16) + 365 * DAY_MS
WARM_AS_OF_MS = (HLC0 >> 16) + 30 * DAY_MS  # past the hot TTL (7 d), not the warm one (90 d)
POLICY = TierPolicy(compression=True, compression_level=3)
DICT_SIZE = 16 * 1024
DICT_SAMPLES = 2_000
GZIP_LEVEL = 6
PACK_TARGET_BYTES = 32 * 1024 * 1024
BATCH_ROWS = 500
MAX_BODY_BYTES = 4 * 1024 * 1024
APPLY_BATCH = 1_000
SELECT_BODIES = "SELECT event_id, event FROM dedup_events WHERE tenant_id = $1 ORDER BY event_id"


def records_of(tenant: str, prefix: str, count: int) -> list[DedupRecord]:
    signed = sign_events(bench_tenant(tenant), prefix, count)
    return [
        dedup_record_from(wal_record_of(event, seq, HLC0), seq)
        for seq, event in enumerate(signed.events, start=1)
    ]


async def apply(region: RegionConfig, records: Sequence[DedupRecord]) -> None:
    """Apply `records`. No ANALYZE follows: demotion right after a bulk load, before autovacuum
    gathered statistics, must cost what it costs on a live shard (README: bench_tiering)."""
    async with await DedupStore.open(region) as dedup:
        for start in range(0, len(records), APPLY_BATCH):
            await dedup.apply(records[start : start + APPLY_BATCH])


# --- demotion and its baseline -----------------------------------------------------------------


async def baseline_rate(region: RegionConfig, store: ObjectStore, tenant: str, rows: int) -> float:
    """Records/s of SELECT + zstd + one PUT per shard, over `tenant`'s `rows` hot bodies."""
    compressor = zstandard.ZstdCompressor(level=POLICY.compression_level, write_checksum=True)
    started = time.perf_counter()
    for index, dsn in enumerate(region.shard_dsns):
        conn = await asyncpg.connect(dsn)
        try:
            found = await conn.fetch(SELECT_BODIES, tenant)
        finally:
            await conn.close()
        pack = b"".join(compressor.compress(bytes(row["event"])) for row in found)
        await store.put(f"tiering/baseline/{tenant}/{index}.pack", pack)
    return rows / (time.perf_counter() - started)


async def walk(step: str, batch_after: Callable[[str], Awaitable[DemotionBatch]]) -> float:
    """Seconds to run `step`'s batches from the start of the walk until none is left."""
    started, after = time.perf_counter(), START
    while True:
        batch = await batch_after(after)
        if batch.skipped:
            raise BenchFailure(f"{batch.skipped} rows skipped {step}")
        if batch.next_after is None:
            return time.perf_counter() - started
        after = batch.next_after


async def demote_all(
    region: RegionConfig, store: ObjectStore, tenant: str, as_of_ms: int, cold: bool
) -> tuple[float, float]:
    """Seconds spent hot -> warm and warm -> cold (0 unless `cold`) over every shard."""
    dictionaries = DictionaryStore(store, 4)
    warm_s = cold_s = 0.0
    async with await DedupStore.open(region) as dedup:
        for shard in dedup.pools.shards:

            async def to_warm(after: str, shard: Any = shard) -> DemotionBatch:
                return await demote_to_warm(
                    shard, tenant, POLICY, None, as_of_ms, after, BATCH_ROWS
                )

            async def to_cold(after: str, shard: Any = shard) -> DemotionBatch:
                return await demote_to_cold(
                    shard,
                    store,
                    dictionaries,
                    tenant,
                    POLICY,
                    as_of_ms,
                    after,
                    page_rows=BATCH_ROWS,
                    pack_target_bytes=PACK_TARGET_BYTES,
                    max_body_bytes=MAX_BODY_BYTES,
                    record_pack=partial(record_pack_dictionaries, dedup.pools.control),
                )

            warm_s += await walk("hot -> warm", to_warm)
            if cold:
                cold_s += await walk("warm -> cold", to_cold)
    return warm_s, cold_s


# --- compression -------------------------------------------------------------------------------


def compression_ratios(bodies: list[bytes]) -> dict[str, float]:
    """raw / stored bytes of `bodies[DICT_SAMPLES:]`, each compressed alone; the dictionary is
    trained on `bodies[:DICT_SAMPLES]`."""
    samples, measured = bodies[:DICT_SAMPLES], bodies[DICT_SAMPLES:]
    dictionary = train_dictionary(samples, DICT_SIZE)
    plain = zstandard.ZstdCompressor(level=POLICY.compression_level, write_checksum=True)
    with_dict = zstandard.ZstdCompressor(
        level=POLICY.compression_level, dict_data=dictionary.zstd, write_checksum=True
    )
    raw = sum(len(body) for body in measured)
    return {
        "zstd": raw / sum(len(plain.compress(body)) for body in measured),
        "zstd+dictionary": raw / sum(len(with_dict.compress(body)) for body in measured),
        "gzip": raw / sum(len(gzip.compress(body, GZIP_LEVEL)) for body in measured),
    }


# --- reads -------------------------------------------------------------------------------------


async def set_promotion(region: RegionConfig, tenants: Sequence[str], on: bool) -> None:
    conn = await asyncpg.connect(region.control_dsn)
    try:
        for tenant in tenants:
            await set_fields(conn, tenant, TierPolicyOverride(promote_on_read=on))
    finally:
        await conn.close()


async def read_latencies_ms(
    settings: Settings, region: RegionConfig, keys: Sequence[DedupRecord]
) -> list[float]:
    """ms per get_event of each key, one after the other; each must return its body."""
    options = TierReadOptions.from_settings(settings)
    latencies = []
    async with await DedupStore.open(region, tiering=options) as dedup:
        for record in keys:
            started = time.perf_counter()
            stored = await dedup.get_event(record.tenant_id, record.event_id)
            latencies.append((time.perf_counter() - started) * 1000)
            if stored is None or stored.event != record.event:
                raise BenchFailure(f"{record.tenant_id}/{record.event_id} did not read back")
    return latencies


def p50_p99(values: list[float]) -> str:
    return f"p50 {percentile(values, 0.5):6.2f} ms  p99 {percentile(values, 0.99):6.2f} ms"


# --- main --------------------------------------------------------------------------------------


async def run(bench: BenchStack, args: argparse.Namespace) -> None:
    region = await bench.fresh_region("us", "bench_tiering")
    settings = bench.with_regions({"us": region})
    store = open_object_store(region.object_store)
    count, reads = args.records, args.reads

    print(f"signing and applying {2 * count:,} records (2 shards) ...", flush=True)
    demoted = records_of("demoted", "d", count)
    baseline = records_of("baseline", "b", count)
    await apply(region, demoted + baseline)
    sizes = sorted(len(r.event) for r in demoted)
    print(f"  body sizes: median {sizes[len(sizes) // 2]} B, max {sizes[-1]} B")

    base = await baseline_rate(region, store, "baseline", count)
    warm_s, cold_s = await demote_all(region, store, "demoted", AS_OF_MS, cold=True)
    through = count / (warm_s + cold_s)
    ratio = through / base
    print("\ndemotion (records/s)")
    print(f"  baseline (SELECT + zstd + 1 PUT/pack)  {base:10,.0f}")
    print(f"  hot -> warm                            {count / warm_s:10,.0f}")
    print(f"  warm -> cold                           {count / cold_s:10,.0f}")
    print(f"  hot -> warm -> cold                    {through:10,.0f}")
    print(f"  ratio to baseline                      {ratio:10.2f}  ", end="")
    print(f"(>= 0.5: {verdict(ratio >= 0.5)})")

    ratios = compression_ratios([r.event for r in baseline])
    gain = ratios["zstd+dictionary"] / ratios["zstd"]
    print(f"\ncompression ratio, {count - DICT_SAMPLES:,} records each compressed alone")
    for name, value in ratios.items():
        print(f"  {name:<16} {value:5.2f}x")
    print(f"  dictionary / plain zstd {gain:.2f}x  (>= 1.5: {verdict(gain >= 1.5)})")

    # The tiers to read from: `demoted` is all cold; `warm` and `hot` are new tenants.
    warm = records_of("warm", "w", 2 * reads)
    hot = records_of("hot", "h", 2 * reads)
    await apply(region, warm + hot)
    await demote_all(region, store, "warm", WARM_AS_OF_MS, cold=False)
    tenants = ("demoted", "warm", "hot")
    cold_p99 = 0.0
    print(f"\nreads (get_event, {reads} keys per line)")
    for promote in (False, True):
        await set_promotion(region, tenants, promote)
        part = slice(reads, 2 * reads) if promote else slice(0, reads)
        for tier, keys in (("hot", hot[part]), ("warm", warm[part]), ("cold", demoted[part])):
            latencies = await read_latencies_ms(settings, region, keys)
            label = f"{tier}, {'promoting' if promote else 'no promotion'}"
            print(f"  {label:<22} {p50_p99(latencies)}")
            if tier == "cold" and not promote:
                cold_p99 = percentile(latencies, 0.99)
    print(f"  cold p99 without promotion (<= 50 ms: {verdict(cold_p99 <= 50)})")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=400)
    return parser.parse_args(argv)


def main() -> int:
    arguments = parse()
    with BenchStack(postgres_only=False) as bench:
        return run_async(lambda: run(bench, arguments))


if __name__ == "__main__":
    sys.exit(main())
