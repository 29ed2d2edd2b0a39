"""The audit pipeline on the real stack, two regions (us ships to S3 under moto and keeps its
write-once leaves there with Object Lock; eu on GCS under fake-gcs-server), each region's log
witnessed by the other region's witness: every key ingested in either region gets a receipt
that verifies offline (the log's key and the other region's witness key, nothing running), the
logs hold exactly one leaf per record of their own WAL streams, and a bit flipped anywhere in a
receipt fails it. A forged checkpoint (a second log of the region at a larger size, signed with
its key) makes the witness refuse the real one: the fork is marked, dead-lettered and shown on
the AuditForkDetected gauge, and the log goes on."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import Checkpoint
from ledger.config import Settings
from ledger.merkle import MemoryTree, leaf_hash
from ledger.receipt import Receipt, ReceiptError, parse_receipt, verify_receipt
from ledger.signed_note import NoteSigner, sign_note
from storage.audit.dlq import dlq_list
from storage.audit.gauges import export, sample_region
from storage.audit.log_keys import log_vkey, witness_vkeys
from storage.audit.metrics import AUDIT_FORK_DETECTED
from storage.audit.witness_client import submit_checkpoint
from storage.audit.witness_forks import forked_witnesses
from storage.audit.witness_keys import witness_targets
from storage.crr.region_keys import signing_key
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.support.audit_pipeline import (
    audit_pipeline,
    audit_settings,
    serving_witnesses,
    wait_witnessed,
)
from tests.support.cluster import Cluster, running_cluster
from tests.support.tenants import register, tenant
from workers.audit_control import start_audit
from workers.audit_ops import control_db
from workers.audit_prove import prove_event
from workers.crr_control import start_crr

pytestmark = pytest.mark.timeout(300)

ACME = tenant("audited")
WITNESS_OF = {"us": "witness-eu", "eu": "witness-us"}


@pytest.fixture
async def settings(running_stack: RunningStack, tmp_path: Path) -> Settings:
    settings = await audit_settings(running_stack, tmp_path, "audit_e2e")
    await register(settings, ACME)
    return settings


def witness_key(settings: Settings, region: str) -> str:
    """The cosigner key of the other region's witness, the one witness of `region`'s log."""
    [key] = witness_vkeys(settings, region)
    return key


async def ingest(cluster: Cluster) -> tuple[dict[str, int], list[str]]:
    """Events into both regions - some sent to both (the same, and rivals that conflict), some
    retried in one region (duplicates): every one is a record of its region's WAL. Returns the
    records per region and every event id."""
    us = [ACME.event(f"us-{i}", {"i": i}) for i in range(40)]
    eu = [ACME.event(f"eu-{i}", {"i": i}) for i in range(30)]
    same = [ACME.event(f"both-same-{i}", {"i": i}) for i in range(4)]
    rivals = [ACME.event(f"both-diff-{i}", {"side": "us"}) for i in range(3)]
    eu_rivals = [ACME.event(f"both-diff-{i}", {"side": "eu"}) for i in range(3)]
    records = {"us": 0, "eu": 0}
    for region, batch in (
        ("us", us[:20]),
        ("eu", eu[:15]),
        ("us", us[20:] + same + rivals),
        ("eu", eu[15:] + same + eu_rivals),
        ("us", us[:5]),  # retried: duplicates, each a record of us's WAL all the same
    ):
        results = await cluster.post(region, batch)
        assert all(r["status"] != "rejected" for r in results), results
        records[region] += len(results)
    ids = sorted({e["event_id"] for e in us + eu + same + rivals})
    return records, ids


async def test_every_key_gets_a_receipt_that_verifies_offline_and_a_flipped_bit_fails_it(
    settings: Settings, tmp_path: Path
) -> None:
    async with (
        serving_witnesses(settings),
        running_cluster(settings) as cluster,
        audit_pipeline(cluster.client, settings),
    ):
        await start_crr(cluster.client, settings)
        records, ids = await ingest(cluster)
        # One leaf per record of the region's own WAL streams, nothing more.
        await wait_witnessed(settings, records)
        receipts = {}
        for event_id in ids:
            proven = await prove_event(settings, ACME.tenant_id, event_id)
            receipts[event_id] = proven.receipt.model_dump(mode="json")

    for event_id, receipt in receipts.items():
        region = receipt["region"]
        verified = verify_receipt(
            as_receipt(receipt), log_vkey(settings, region), [witness_key(settings, region)]
        )
        assert (verified.tenant_id, verified.event_id) == (ACME.tenant_id, event_id)
        assert verified.size == records[region]
        assert verified.witnesses == [WITNESS_OF[region]]
    # Records replayed from the other region are proven by their source region's log.
    assert {r["region"] for r in receipts.values()} == {"us", "eu"}

    receipt = receipts["us-7"]
    for mutated in flipped_bits(receipt):
        with pytest.raises(ReceiptError):
            verify_receipt(
                as_receipt(mutated), log_vkey(settings, "us"), [witness_key(settings, "us")]
            )


def as_receipt(document: dict[str, Any]) -> Receipt:
    """The receipt as `geoledger audit verify` reads it from a file."""
    return parse_receipt(json.dumps(document))


def flipped_bits(receipt: dict[str, Any]) -> list[dict[str, Any]]:
    """The receipt with one bit flipped in the leaf, each proof hash, the checkpoint's root and
    signatures, and the event's payload."""
    out = []

    def flip_b64(value: str, bit: int) -> str:
        raw = bytearray(base64.b64decode(value))
        raw[bit // 8 % len(raw)] ^= 1 << (bit % 8)
        return base64.b64encode(bytes(raw)).decode()

    for bit in (0, 77, 200):
        out.append({**receipt, "leaf": flip_b64(receipt["leaf"], bit)})
    for i in range(len(receipt["inclusion_proof"])):
        proof = list(receipt["inclusion_proof"])
        proof[i] = flip_b64(proof[i], 9)
        out.append({**receipt, "inclusion_proof": proof})
    lines = receipt["checkpoint"].split("\n")
    for i, line in enumerate(lines):
        if not line or line.isdigit():
            continue  # the size line: RFC 9162 lets some sizes share a proof shape
        text = line.split(" ")[-1] if line.startswith("\u2014") else line
        flipped = flip_b64(text, 100) if line.startswith("\u2014") or i == 2 else text + "x"
        changed = list(lines)
        changed[i] = line.replace(text, flipped)
        out.append({**receipt, "checkpoint": "\n".join(changed)})
    event = json.loads(json.dumps(receipt["event"]))
    event["payload"]["i"] = event["payload"]["i"] ^ 1
    out.append({**receipt, "event": event})
    return out


async def test_a_forged_checkpoint_makes_the_witness_refuse_and_the_fork_alarms(
    settings: Settings,
) -> None:
    async with (
        serving_witnesses(settings),
        running_cluster(settings) as cluster,
        audit_pipeline(cluster.client, settings),
    ):
        await start_crr(cluster.client, settings)
        first = [ACME.event(f"before-{i}", {"i": i}) for i in range(10)]
        await cluster.post("us", first)
        await wait_witnessed(settings, {"us": len(first)})

        # Someone holding us's key shows witness-eu a second log, larger than ours.
        forged = MemoryTree.of(leaf_hash(b"forged %d" % i) for i in range(50))
        origin = settings.audit.origin("us")
        note = sign_note(
            Checkpoint(origin, forged.size, forged.root()).body(),
            [NoteSigner(origin, signing_key("us", settings.region("us")))],
        )
        [witness] = witness_targets(settings, origin)
        # witness-eu cosigned our 10; a forged consistency proof it cannot check is refused,
        # so the forger feeds it from 0 (a witness that lost its state would take that).
        async with control_db(settings, "eu") as eu_db:
            await eu_db.execute("DELETE FROM witness_checkpoints WHERE origin = $1", origin)
        await submit_checkpoint(witness, note, 0, [])

        # The real log's next checkpoint is refused: our 20 does not extend their 50.
        await cluster.post("us", [ACME.event(f"after-{i}", {"i": i}) for i in range(10)])
        async with control_db(settings, "us") as db:
            for _ in range(120):
                letters = await dlq_list(db)
                if letters:
                    break
                await asyncio.sleep(0.5)
            [letter] = letters
            store = open_object_store(settings.region("us").object_store)
            sample = await sample_region(db, store, ["us/n1"])
        assert letter.task_type == "attest_external"
        assert "AuditForkDetected" in letter.error or "refuses" in letter.error
        assert sample.forked_witnesses == ["witness-eu"]
        export("us", sample, ["witness-eu"])
        gauge = AUDIT_FORK_DETECTED.labels(region="us", witness="witness-eu")
        assert gauge._value.get() == 1
        # The log itself went on: the 20 leaves are in a signed checkpoint.
        async with control_db(settings, "us") as db:
            size = await db.fetchval("SELECT max(size) FROM audit_checkpoints")
        assert size == 20


async def test_a_restarted_anchor_workflow_goes_on_from_the_log(settings: Settings) -> None:
    # `geoledger audit start --restart` after the log has batches and with leaves enriched but
    # not yet appended: the new run numbers its batches after the latest, appends the waiting
    # leaves, and the witnesses cosign its checkpoints (an old batch number re-sent would be a
    # rollback to them, a fork alarm).
    slow = settings.model_copy(
        update={"audit": settings.audit.model_copy(update={"batch_max_age_s": 30.0})}
    )
    async with (
        serving_witnesses(settings),
        running_cluster(settings) as cluster,
        audit_pipeline(cluster.client, settings) as queue,
    ):
        await start_crr(cluster.client, settings)
        first = await cluster.post("us", [ACME.event(f"first-{i}", {"i": i}) for i in range(10)])
        await wait_witnessed(settings, {"us": len(first)})
        # A slow batch age: the next leaves are enriched, then the run is replaced.
        await start_audit(cluster.client, slow, "us", restart=True, task_queue=queue)
        second = await cluster.post("us", [ACME.event(f"second-{i}", {"i": i}) for i in range(7)])
        async with control_db(settings, "us") as db:
            for _ in range(120):
                if await db.fetchval("SELECT count(*) FROM audit_leaves WHERE idx IS NULL"):
                    break
                await asyncio.sleep(0.25)
            batches_before = await db.fetchval("SELECT max(batch) FROM audit_checkpoints")
        await start_audit(cluster.client, settings, "us", restart=True, task_queue=queue)
        await wait_witnessed(settings, {"us": len(first) + len(second)})
        async with control_db(settings, "us") as db:
            assert not await dlq_list(db)
            assert not await forked_witnesses(db)
            batches = await db.fetch("SELECT batch, size FROM audit_checkpoints ORDER BY batch")
    assert batches[-1]["batch"] > batches_before
    assert [b["size"] for b in batches] == sorted(b["size"] for b in batches)
