"""The audit worker as a real process (`geoledger worker run --queue geoledger-audit`), SIGKILLed
at each crash point of the audit tasks: enrich_worm (the leaves object written, no row yet; the
rows committed, the task not returned), anchor_batch (the batch written in its open transaction;
committed, the task not returned; the tiles published, not the checkpoint naming them) and
attest_external (a witness cosigned, the cosignature not stored; stored, the task not returned).
The worker must exit by SIGKILL, which only its armed crash point sends. A worker started again
without the crash point takes the killed attempts over once their heartbeat timeout is over,
and both regions' logs reach a cosigned checkpoint of every record. `make test` runs one point
inside each task (the leaves object written, the batch uncommitted, a witness's cosignature not
stored); `make soak` runs the other four too.

How this proves that no leaf is lost or appended twice, per region:
- the records are read back from the region's own WAL streams (sealed and open segments, not
  what the ingest answered), and the log's size equals their count: a lost leaf makes it
  smaller, a leaf appended twice bigger;
- the leaf rows are exactly those (stream, seq), one each, all appended, with the indexes
  0..size-1, one each: no hole and no index given twice, so the size cannot match by a loss
  cancelling a double; each leaf is the encoding of its WAL record and its hash that
  encoding's leaf hash;
- the segment rows cover each stream's seqs once, and each one's write-once object (written
  again by a retry after the kill) reads back as the bytes the row names;
- the root of the log head's compact range and of the latest checkpoint both equal
  merkle.root_of over the leaf hashes in index order, recomputed here from nothing: the
  incremental appends built the tree of exactly these leaves in this order; inclusion proofs of
  sampled leaves (first, last and a stride between), folded from the stored nodes, verify
  against that root, so the stored nodes are that tree's too;
- the latest checkpoint is of that size, verifies under the region's key and the witness's
  cosigner key, the checkpoint published beside the tiles has the same size, and nothing went to
  the dead-letter queue (a dead-lettered task would leave leaves waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from temporalio.service import RPCError

from ledger import merkle
from ledger.audit_leaf import leaf_from_record
from ledger.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint
from ledger.config import Settings
from ledger.cosignature import CosignatureVerifier
from ledger.record import decode_record
from ledger.signed_note import NoteVerifier, split_note, vkey
from ledger.stream_id import StreamId
from storage.audit.append import CRASH_AFTER_COMMIT, CRASH_BEFORE_COMMIT
from storage.audit.cosigned import witnessed_note
from storage.audit.dlq import dlq_list
from storage.audit.enrich import CRASH_AFTER_ROWS_COMMITTED, CRASH_AFTER_WORM_WRITTEN
from storage.audit.proofs import record_receipt_parts
from storage.audit.tiles import CHECKPOINT_KEY, CRASH_BEFORE_CHECKPOINT
from storage.audit.witness_attest import CRASH_AFTER_COSIGNED, CRASH_AFTER_STORED
from storage.audit.witness_keys import witness_targets
from storage.crr.region_keys import manifest_public_key
from storage.objectstore import open_object_store
from storage.objectstore.worm_factory import open_worm_store
from storage.wal.naming import stream_directory
from storage.wal.reader import iter_records
from tests.conftest import RunningStack
from tests.support.audit_pipeline import audit_settings, serving_witnesses, wait_witnessed
from tests.support.cluster import Cluster, running_cluster
from tests.support.processes import WORKER_READY, GeoledgerProcess, ProcessGroup, geoledger_env
from tests.support.tenants import register, tenant
from workers.audit_control import start_audit
from workers.audit_ops import control_db
from workers.crr_control import start_crr
from workflows import queues

pytestmark = pytest.mark.timeout(180)

ACME = tenant("acme")
# Posts per region, each sealed into a segment of its own (the WAL seals after 0.25 s), so a
# kill in one segment's enrichment leaves others in flight.
POSTS = 3
EVENTS_PER_POST = 6
# The killed attempt is one; the rest absorb the retry (and a slow start) without a DLQ entry.
TASK_ATTEMPTS = 5
# The armed worker reaches its point within seconds; the heartbeat timeout (10 s) plus the
# anchor age (1 s) and a witness round bound the rest.
CRASH_WITHIN_S = 60
WITNESSED_WITHIN_S = 90
LEAVES = """
SELECT stream, seq, idx, leaf, leaf_hash FROM audit_leaves ORDER BY idx NULLS FIRST, stream, seq
"""
LOG_HEAD = "SELECT size, compact_range FROM audit_log WHERE id = 1"
SEGMENTS = """
SELECT stream, first_seq, last_seq, records, worm_key, worm_version, leaves_sha256
FROM audit_segments ORDER BY stream, first_seq
"""


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await audit_settings(running_stack, tmp_path, "audit_kill")
    audit = settings.audit.model_copy(update={"task_max_attempts": TASK_ATTEMPTS})
    settings = settings.model_copy(update={"audit": audit})
    await register(settings, ACME)
    return settings


def worker_env(settings: Settings, config_path: Path, crash_at: str | None) -> dict[str, str]:
    """The worker subprocess loads exactly `settings`: its regions, and this test's witnesses
    (ports, keys) and [audit] over the session file's (every field given, so none of the file's
    remains)."""
    env = geoledger_env(settings, config_path, crash_at)
    env["GEOLEDGER_WITNESSES"] = json.dumps(
        {name: witness.model_dump(mode="json") for name, witness in settings.witnesses.items()}
    )
    env["GEOLEDGER_AUDIT"] = settings.audit.model_dump_json()
    return env


def start_audit_worker(
    group: ProcessGroup, settings: Settings, config_path: Path, crash_at: str | None
) -> GeoledgerProcess:
    return group.start(
        "worker-audit",
        ["worker", "run", "--queue", queues.AUDIT, "--metrics-port", "0"],
        worker_env(settings, config_path, crash_at),
    )


async def ingest(cluster: Cluster) -> None:
    """Events into both regions at once, in several segments, a duplicate and a conflict among
    them (each a record of its own, so a leaf of its own)."""
    await asyncio.gather(*(ingest_region(cluster, region) for region in cluster.settings.regions))


async def ingest_region(cluster: Cluster, region: str) -> None:
    for post in range(POSTS):
        events = [ACME.event(f"{region}-{post}-{n}", {"n": n}) for n in range(EVENTS_PER_POST)]
        if post:
            events.append(ACME.event(f"{region}-0-0", {"n": 0}))  # a duplicate
            events.append(ACME.event(f"{region}-0-1", {"n": -1}))  # a conflict
        await cluster.post(region, events)
        # The next post starts a segment of its own once this one is sealed.
        await asyncio.sleep(2 * cluster.settings.wal.max_segment_age_s)


def own_records(settings: Settings, region: str) -> dict[tuple[str, int], bytes]:
    """Every record of the region's own WAL streams, by (stream, seq)."""
    config = settings.region(region)
    records = {}
    for node in config.nodes:
        stream = str(StreamId(region, node.name))
        for seq, data in iter_records(stream_directory(config.wal_dir, stream)):
            records[(stream, seq)] = data
    return records


# One point inside each task runs in `make test`; the other four (about 22 s each, most of it
# the heartbeat timeout a killed attempt waits out) run in `make soak` with the slow tests.
SOAK = pytest.mark.slow


@pytest.mark.parametrize(
    "crash_at",
    [
        CRASH_AFTER_WORM_WRITTEN,
        pytest.param(CRASH_AFTER_ROWS_COMMITTED, marks=SOAK),
        CRASH_BEFORE_COMMIT,
        pytest.param(CRASH_AFTER_COMMIT, marks=SOAK),
        pytest.param(CRASH_BEFORE_CHECKPOINT, marks=SOAK),
        CRASH_AFTER_COSIGNED,
        pytest.param(CRASH_AFTER_STORED, marks=SOAK),
    ],
)
async def test_an_audit_worker_killed_in_a_task_loses_and_doubles_no_leaf(
    running_stack: RunningStack, settings: Settings, tmp_path: Path, crash_at: str
) -> None:
    group = ProcessGroup(tmp_path / "logs")
    try:
        async with serving_witnesses(settings), running_cluster(settings) as cluster:
            await start_crr(cluster.client, settings)
            ids = await start_audit(cluster.client, settings, task_queue=queues.AUDIT)
            try:
                # Armed while the events come in: its interpreter starts meanwhile.
                armed = start_audit_worker(group, settings, running_stack.config_path, crash_at)
                await ingest(cluster)
                records = {region: own_records(settings, region) for region in settings.regions}
                assert await armed.wait_exit(CRASH_WITHIN_S) == -signal.SIGKILL, armed.log_tail()
                again = start_audit_worker(group, settings, running_stack.config_path, None)
                await again.wait_for_log(WORKER_READY)
                await wait_witnessed(
                    settings,
                    {region: len(each) for region, each in records.items()},
                    WITNESSED_WITHIN_S,
                )
            finally:
                for workflow_id in ids:
                    with contextlib.suppress(RPCError):
                        await cluster.client.get_workflow_handle(workflow_id).terminate("test over")
    finally:
        group.close()
    for region, expected in records.items():
        await assert_log_holds_each_record_once(settings, region, expected)


async def assert_log_holds_each_record_once(
    settings: Settings, region: str, records: dict[tuple[str, int], bytes]
) -> None:
    async with control_db(settings, region) as db:
        rows = await db.fetch(LEAVES)
        head = await db.fetchrow(LOG_HEAD)
        note = await witnessed_note(db)
        dead_letters = await dlq_list(db)
        segments = await db.fetch(SEGMENTS)
        sample = sorted({0, len(rows) - 1, *range(0, len(rows), 5)})
        proofs = [await record_receipt_parts(db, rows[i]["stream"], rows[i]["seq"]) for i in sample]
    size = len(records)
    assert head["size"] == size, region
    assert sorted((row["stream"], row["seq"]) for row in rows) == sorted(records), region
    assert [row["idx"] for row in rows] == list(range(size)), region
    for row in rows:
        key = (row["stream"], row["seq"])
        leaf = leaf_from_record(*key, decode_record(records[key])).encode()
        assert bytes(row["leaf"]) == leaf, (region, key)
        assert bytes(row["leaf_hash"]) == merkle.leaf_hash(leaf), (region, key)
    root = merkle.root_of([bytes(row["leaf_hash"]) for row in rows])
    assert merkle.CompactRange.from_bytes(bytes(head["compact_range"])).root() == root, region
    assert dead_letters == [], region
    await assert_segments_written_once(settings, region, segments, records)

    assert note is not None and note["size"] == size and note["root_hex"] == root.hex(), region
    checkpoint = assert_checkpoint_verifies(settings, region, note["note"])
    assert (checkpoint.size, checkpoint.root_hash) == (size, root), region
    published = await open_object_store(settings.region(region).object_store).get(CHECKPOINT_KEY)
    assert parse_checkpoint(split_note(published.decode())[0]).size == size, region
    for parts in proofs:
        assert parts is not None and parts.checkpoint.size == size, region
        merkle.verify_inclusion(merkle.leaf_hash(parts.leaf), parts.index, size, parts.proof, root)


async def assert_segments_written_once(
    settings: Settings, region: str, segments: list[Any], records: dict[tuple[str, int], bytes]
) -> None:
    """The segment rows tile each stream's seqs without overlap, and each one's write-once
    object reads back as the bytes the row names."""
    covered = [(row["stream"], seq) for row in segments for seq in seq_range(row)]
    assert sorted(covered) == sorted(records), region
    assert all(row["records"] == len(seq_range(row)) for row in segments), region
    config = settings.region(region)
    assert config.audit_store is not None
    worm = open_worm_store(config.audit_store, config.audit_retention_days)
    for row in segments:
        data = await worm.read(row["worm_key"], row["worm_version"])
        assert hashlib.sha256(data).hexdigest() == row["leaves_sha256"], (region, row["worm_key"])


def seq_range(segment: Any) -> range:
    return range(segment["first_seq"], segment["last_seq"] + 1)


def assert_checkpoint_verifies(settings: Settings, region: str, note: str) -> Checkpoint:
    """The checkpoint of `note`, which the region's key signed and every witness cosigned."""
    origin = settings.audit.origin(region)
    log_key = NoteVerifier.from_vkey(
        vkey(origin, manifest_public_key(region, settings.region(region)))
    )
    targets = witness_targets(settings, origin)
    cosigners = [CosignatureVerifier.from_vkey(target.vkey) for target in targets]
    checkpoint, opened = open_checkpoint(note, [log_key, *cosigners])
    assert Counter(opened.verified) == Counter([origin, *(t.name for t in targets)]), region
    return checkpoint
