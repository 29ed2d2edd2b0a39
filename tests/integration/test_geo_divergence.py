"""GeoDivergenceWorkflow end to end: two regions' dedup stores on real PostgreSQL (2 and 3 shards),
a real worker on the session's Temporal dev server with the worker's own RegionResources, reports
in region eu's store (fake-gcs-server).

Both regions apply the same records in different orders and batchings: no divergence. Then region
b loses one record, one of its digests changes, and region a gains one record inside the common
watermark and one beyond it: the check names exactly the first three.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import pytest
from click.testing import Result
from prometheus_client import REGISTRY
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.worker import Worker
from typer.testing import CliRunner

from activities.geo import GeoActivities
from activities.region_resources import RegionResources
from cli.geo import geo_app
from ledger.config import RegionConfig, Settings
from ledger.seq_buckets import bucket_count, bucket_of, bucket_width
from ledger.seq_range import SeqRange
from storage.dedup import DedupRecord, DedupStore, migrate_region
from storage.geo import fetch_records, fingerprint_ranges, record_hash
from storage.tiering.demotion_rows import START
from storage.tiering.expire import expire_batch
from storage.tiering.horizons import record_horizon
from tests.conftest import RunningStack
from tests.integration.test_dedup_helpers import fresh_region
from tests.integration.test_tiering_retention import forget_nothing
from workers.client import connect
from workflows.geo_divergence import (
    MEMO_KEY,
    SCHEDULE_ID,
    GeoDivergenceInput,
    GeoDivergenceResult,
    GeoDivergenceWorkflow,
)

pytestmark = pytest.mark.timeout(120)

US_RECORDS = 3000  # stream us/n1
EU_RECORDS = 1500  # stream eu/n1
HASH_MODULUS = 1 << 64


def us_record(seq: int, *, seq_override: int | None = None) -> DedupRecord:
    return DedupRecord(
        tenant_id="acme",
        event_id=f"evt-{seq:05d}",
        hlc=1_000 + 2 * seq,
        region="us",
        node="n1",
        seq=seq_override or seq,
        digest=_digest(f"us-{seq}"),
        event=f'{{"us":{seq}}}'.encode(),
        accepted_at_ms=1_700_000_000_000 + seq,
    )


def eu_record(seq: int) -> DedupRecord:
    # Every third record names a key us/n1 also wrote: half of those with the same content
    # (duplicates), half with other content (conflicts), so both tables hold rows of both streams.
    shared = seq % 3 == 0
    return DedupRecord(
        tenant_id="acme",
        event_id=f"evt-{2 * seq:05d}" if shared else f"eu-evt-{seq:05d}",
        hlc=1_001 + 3 * seq,
        region="eu",
        node="n1",
        seq=seq,
        digest=_digest(f"us-{2 * seq}" if shared and seq % 2 == 0 else f"eu-{seq}"),
        event=f'{{"eu":{seq}}}'.encode(),
        accepted_at_ms=1_700_000_000_000 + seq,
    )


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


US = [us_record(seq) for seq in range(1, US_RECORDS + 1)]
EU = [eu_record(seq) for seq in range(1, EU_RECORDS + 1)]


@dataclass
class Setup:
    client: Client
    task_queue: str
    settings: Settings
    resources: RegionResources
    a: DedupStore  # region "eu"
    b: DedupStore  # region "us"


async def apply_in_batches(
    store: DedupStore, records: Sequence[DedupRecord], size: int, order: random.Random | None
) -> None:
    batches = [list(records[i : i + size]) for i in range(0, len(records), size)]
    if order is not None:
        order.shuffle(batches)
        for batch in batches:
            order.shuffle(batch)
    for batch in batches:
        stream = f"{batch[0].region}/{batch[0].node}"
        await store.apply(batch, stream=stream, through_seq=max(r.seq for r in batch))


@pytest.fixture(scope="module")
async def setup(running_stack: RunningStack) -> AsyncIterator[Setup]:
    # Fresh databases; each region keeps the session's object store of its name (eu: GCS, us: S3),
    # so reports (in region a = eu) go to fake-gcs-server.
    eu_region: RegionConfig = await fresh_region(running_stack, "geo_eu", shards=2)
    us_region: RegionConfig = await fresh_region(running_stack, "geo_us", shards=3)
    eu_region = eu_region.model_copy(
        update={"object_store": running_stack.settings.region("eu").object_store}
    )
    await asyncio.gather(migrate_region(eu_region), migrate_region(us_region))
    settings = running_stack.settings.model_copy(
        update={"regions": {"eu": eu_region, "us": us_region}}
    )
    resources = RegionResources(settings)
    a, b = await resources.dedup("eu"), await resources.dedup("us")
    # Same records, different orders and batchings: region a stream by stream in order, region b
    # eu/n1 first, in shuffled batches of other sizes.
    await apply_in_batches(a, US, 500, None)
    await apply_in_batches(a, EU, 250, None)
    await apply_in_batches(b, EU, 97, random.Random(7))
    await apply_in_batches(b, US, 333, random.Random(11))

    client = await connect(running_stack.settings)
    task_queue = f"geo-{uuid.uuid4()}"
    activities = GeoActivities(settings, resources)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GeoDivergenceWorkflow],
        activities=[
            activities.watermarks,
            activities.fingerprints,
            activities.exact_diff,
            activities.write_report,
        ],
    ):
        yield Setup(client, task_queue, settings, resources, a, b)
    await resources.close()


async def run_check(setup: Setup, request: GeoDivergenceInput) -> GeoDivergenceResult:
    result: GeoDivergenceResult = await setup.client.execute_workflow(
        GeoDivergenceWorkflow.run,
        request,
        id=f"geo-divergence-test-{uuid.uuid4()}",
        task_queue=setup.task_queue,
    )
    return result


async def set_us_digest(store: DedupStore, seq: int, digest: bytes) -> None:
    """Overwrite, on every shard, the digest of record us/n1 `seq` (a corrupted replica)."""
    for pool in store.pools.shards:
        for table in ("dedup_events", "dedup_copies"):
            await pool.execute(
                f"UPDATE {table} SET digest = $1 WHERE region = 'us' AND node = 'n1' AND seq = $2",
                digest,
                seq,
            )


def gauge(pair: str) -> float | None:
    return REGISTRY.get_sample_value("geo_dedup_divergence_keys", {"pair": pair})


def python_fingerprint(seqs: SeqRange, buckets: int) -> tuple[int, list[int], list[int]]:
    """What the SQL must return for range `seqs` of us/n1, from the reference record_hash."""
    width = bucket_width(seqs, buckets)
    count = bucket_count(seqs, width)
    counts, sums = [0] * count, [0] * count
    for record in US[seqs.lo - 1 : seqs.hi]:
        bucket = bucket_of(seqs, width, record.seq)
        counts[bucket] += 1
        h = record_hash(record.tenant_id, record.event_id, record.seq, record.hlc, record.digest)
        sums[bucket] = (sums[bucket] + h) % HASH_MODULUS
    return width, counts, sums


# One range; adjacent ranges, a gap and a single seq (located by width_bucket in SQL).
FINGERPRINT_CASES = {
    "whole": [SeqRange(lo=1, hi=US_RECORDS)],
    "adjacent-and-gaps": [
        SeqRange(lo=1, hi=1000),
        SeqRange(lo=1001, hi=1500),
        SeqRange(lo=2000, hi=2000),
        SeqRange(lo=2001, hi=2999),
    ],
}


@pytest.mark.parametrize("case", FINGERPRINT_CASES)
async def test_sql_fingerprint_equals_the_python_reference(setup: Setup, case: str) -> None:
    ranges = FINGERPRINT_CASES[case]
    for store in (setup.a, setup.b):  # 2 shards and 3 shards: the same fingerprint
        found = await fingerprint_ranges(list(store.pools.shards), "us/n1", ranges, 64, {})
        assert [fp.seqs for fp in found] == ranges
        for seqs, fp in zip(ranges, found, strict=True):
            assert (fp.width, list(fp.counts), list(fp.hashes)) == python_fingerprint(seqs, 64)
            assert fp.records == seqs.size


async def test_fetch_reads_exactly_the_ranges(setup: Setup) -> None:
    ranges = FINGERPRINT_CASES["adjacent-and-gaps"][:3]
    for store in (setup.a, setup.b):
        found = await fetch_records(list(store.pools.shards), "us/n1", ranges, {})
        assert [r.seq for r in found] == [*range(1, 1501), 2000]
        assert {(r.event_id, r.digest) for r in found if r.seq == 2000} == {
            ("evt-02000", _digest("us-2000"))
        }


async def test_same_records_in_other_orders_do_not_diverge(setup: Setup) -> None:
    result = await run_check(setup, GeoDivergenceInput())

    [pair] = result.pairs
    assert (pair.a, pair.b, pair.pair, pair.skipped) == ("eu", "us", "eu-us", None)
    assert pair.differing_keys == 0
    summary = {s.stream: (s.upto, s.records_a, s.records_b, s.differing_keys) for s in pair.streams}
    assert summary == {
        "eu/n1": (EU_RECORDS, EU_RECORDS, EU_RECORDS, 0),
        "us/n1": (US_RECORDS, US_RECORDS, US_RECORDS, 0),
    }
    assert gauge("eu-us") == 0
    checked = REGISTRY.get_sample_value(
        "geo_dedup_divergence_last_check_timestamp_seconds", {"pair": "eu-us"}
    )
    assert checked is not None and abs(checked - time.time()) < 60
    assert pair.report_key == f"geo/divergence/{result.workflow_id}/eu-us.json"
    report = json.loads(await setup.resources.store("eu").get(pair.report_key))
    assert report["differing_keys"] == 0
    assert [s["divergences"] for s in report["streams"]] == [[], []]


async def test_a_region_that_expired_first_does_not_diverge(setup: Setup) -> None:
    # Region b (us) expires acme below hlc 2000; region a (eu) has not yet: the check compares
    # above the higher horizon of the two, so nothing diverges.
    horizon = 2_000
    ring = list(setup.b.pools.shards)
    await record_horizon(ring, "acme", horizon, 0)
    for pool in ring:
        after: str | None = START
        while after is not None:
            expiry = await expire_batch(
                pool, ring, setup.resources.store("us"), "acme", horizon, after, 500, forget_nothing
            )
            after = expiry.next_after
    try:
        result = await run_check(setup, GeoDivergenceInput())

        [pair] = result.pairs
        assert pair.differing_keys == 0
        kept = {
            "eu/n1": sum(r.hlc >= horizon for r in EU),
            "us/n1": sum(r.hlc >= horizon for r in US),
        }
        assert kept["us/n1"] < US_RECORDS
        summary = {s.stream: (s.records_a, s.records_b) for s in pair.streams}
        assert summary == {stream: (n, n) for stream, n in kept.items()}
    finally:
        # Back to the state the other tests expect: no horizon, every record applied again
        # (the apply is order-independent, I3).
        for pool in ring:
            await pool.execute("DELETE FROM retention_horizons")
        await apply_in_batches(setup.b, [*EU, *US], 500, None)


async def test_check_names_exactly_the_divergent_records(setup: Setup) -> None:
    # b loses us/n1 seq 777 (a record no other stream shares a key with).
    for pool in setup.b.pools.shards:
        for table in ("dedup_events", "dedup_copies"):
            await pool.execute(
                f"DELETE FROM {table} WHERE region = 'us' AND node = 'n1' AND seq = 777"
            )
    # b's record us/n1 seq 1234 says something else.
    await set_us_digest(setup.b, 1234, _digest("tampered"))
    # a holds a second record claiming us/n1 seq 2000, inside the common watermark ...
    inside = us_record(5000, seq_override=2000)
    await setup.a.apply([inside])
    # ... and the next record of us/n1, beyond b's watermark: not compared yet.
    await setup.a.apply([us_record(US_RECORDS + 1)], stream="us/n1", through_seq=US_RECORDS + 1)

    expected = {
        ("us/n1", 777, "missing_in_b", "acme/evt-00777"),
        ("us/n1", 1234, "different", "acme/evt-01234"),
        ("us/n1", 2000, "missing_in_b", "acme/evt-05000"),
    }
    # Default buckets diff after one round; 4 buckets and 16-seq ranges bisect over five rounds.
    for request in (GeoDivergenceInput(), GeoDivergenceInput(buckets=4, exact_range=16)):
        result = await run_check(setup, request)
        [pair] = result.pairs
        by_stream = {s.stream: s for s in pair.streams}
        assert by_stream["us/n1"].upto == US_RECORDS
        assert (by_stream["us/n1"].records_a, by_stream["us/n1"].records_b) == (3001, 2999)
        assert by_stream["eu/n1"].differing_keys == 0
        found = {(d.stream, d.seq, d.kind, d.key) for d in by_stream["us/n1"].sample}
        assert found == expected
        assert pair.differing_keys == 3
        assert gauge("eu-us") == 3

    different = next(d for d in by_stream["us/n1"].sample if d.kind == "different")
    assert different.in_a is not None and different.in_b is not None
    assert different.in_a.digest == _digest("us-1234").hex()
    assert different.in_b.digest == _digest("tampered").hex()

    # The full list is in region a's store, the memo says what the web UI shows.
    assert pair.report_key is not None
    report = json.loads(await setup.resources.store("eu").get(pair.report_key))
    listed = {
        (d["stream"], d["seq"], d["kind"]) for s in report["streams"] for d in s["divergences"]
    }
    assert listed == {(stream, seq, kind) for stream, seq, kind, _ in expected}
    memo = await setup.client.get_workflow_handle(result.workflow_id).describe()
    assert (await memo.memo_value(MEMO_KEY))["divergent_keys"] == {"eu-us": 3}


# --- the CLI, against the same worker (it runs in a thread: the command runs its own loop) ---


async def invoke(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, geo_app, list(args))


async def test_cli_check_exit_status_and_json(setup: Setup, running_stack: RunningStack) -> None:
    # Runs after the divergence was introduced above.
    config = str(running_stack.config_path)
    result = await invoke("check", "--json", "--config", config, "--task-queue", setup.task_queue)

    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)
    assert found["differing_keys"] == 3
    assert found["workflow_id"].startswith("geo-divergence-")
    [pair] = found["pairs"]
    assert {s["stream"]: s["differing_keys"] for s in pair["streams"]} == {"eu/n1": 0, "us/n1": 3}


async def test_cli_check_table_when_clean(setup: Setup, running_stack: RunningStack) -> None:
    # Restore region b's two records: the regions agree again below the common watermark.
    inside = us_record(5000, seq_override=2000)
    await setup.b.apply([inside, us_record(777)])
    await set_us_digest(setup.b, 1234, _digest("us-1234"))
    config = str(running_stack.config_path)
    result = await invoke("check", "--config", config, "--task-queue", setup.task_queue)

    assert result.exit_code == 0, result.output
    assert "no divergence" in result.stdout
    assert "eu-us" in result.stdout and "us/n1" in result.stdout
    assert gauge("eu-us") == 0


async def test_cli_schedule_is_created_then_updated(
    setup: Setup, running_stack: RunningStack
) -> None:
    config = str(running_stack.config_path)
    handle = setup.client.get_schedule_handle(SCHEDULE_ID)
    try:
        first = await invoke("schedule", "--every", "5m", "--config", config)
        again = await invoke(
            "schedule", "--every", "1h30m", "--config", config, "--task-queue", setup.task_queue
        )
        assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
        assert "created" in first.stdout and "updated" in again.stdout

        described = (await handle.describe()).schedule
        assert [i.every for i in described.spec.intervals] == [timedelta(hours=1, minutes=30)]
        assert described.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert described.policy.catchup_window <= timedelta(minutes=5)
        action = described.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert (action.workflow, action.id, action.task_queue) == (
            "GeoDivergenceWorkflow",
            "geo-divergence",
            setup.task_queue,
        )
    finally:
        await handle.delete()
