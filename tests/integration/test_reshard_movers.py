"""The re-sharding data movers (storage/dedup/reshard) on real PostgreSQL, growing a region's
ring from 2 to 4 shards with keys in all three body tiers, duplicates and conflicts: a copy,
chunk by chunk, verifies clean, and after cleanup the new ring's canonical dump is the old
ring's byte for byte; re-running any chunk changes nothing; what ingest writes to the old ring
after the copy is brought over by a catch-up copy, which merges, also while dual writes go on
(without a deadlock against the dedup apply); a tampered row is found, listed and never cleaned
up; a record told two ways is refused; undo empties the new shards; a new shard's positions are
sealed at the old shards' lowest and cleared on rollback; a SIGKILL at each crash point loses
and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from dataclasses import replace

import pytest

from ledger.config import RegionConfig
from ledger.reshard_chunk import ChunkDiff, ChunkKey
from ledger.ring import shard_of
from storage.dedup import DedupRecord, DedupStore
from storage.dedup.apply import apply_to_shard
from storage.dedup.errors import ReshardConflictError
from storage.dedup.read import fetch_positions
from storage.dedup.reshard import (
    clear_positions,
    copy_chunk,
    recheck_keys,
    seal_positions,
    verify_chunk,
    write_mismatches,
)
from storage.dedup.reshard.cleanup import CRASH_BEFORE_DELETE
from storage.dedup.reshard.copy import CRASH_BEFORE_INSERT
from storage.faults import CRASH_AT_ENV
from storage.objectstore import open_object_store
from tests.conftest import RunningStack
from tests.integration.reshard_support import (
    FROM_RING,
    TO_RING,
    Copied,
    clean_everything,
    copy_everything,
    copy_step,
    crash_command,
    dump,
    keys_of,
    later_records,
    populate,
    ring_region,
    undo_everything,
    write_later,
)
from tests.integration.tiering_support import make_warm, stored_record

pytestmark = pytest.mark.timeout(300)

KEYS = 3000
CHUNK = 250
OLD_RING, NEW_RING = range(FROM_RING), range(TO_RING)


async def verify(store: DedupStore, run: Copied, max_listed: int = 100) -> ChunkDiff:
    source, target, after, chunk = run
    return await verify_chunk(
        store.pools.shards[source],
        store.pools.shards[target],
        from_ring=FROM_RING,
        to_ring=TO_RING,
        source_shard=source,
        target_shard=target,
        after_key=after,
        through_key=None if chunk.done else chunk.last_key,
        max_listed=max_listed,
    )


async def rerun(store: DedupStore, run: Copied) -> None:
    source, target, after, chunk = run
    again = await copy_step(store, source, target, CHUNK)(after)
    assert again == chunk.model_copy(update={"written": 0})


async def test_copy_verify_cleanup_keep_the_dump_byte_for_byte(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_move")
    async with await DedupStore.open(region) as store:
        await populate(store, region, KEYS)
        old_ring = await dump(region, store, OLD_RING)
        tiers = await store.pools.shards[0].fetch(
            "SELECT DISTINCT body_tier FROM dedup_events ORDER BY 1"
        )
        assert [r[0] for r in tiers] == [0, 1, 2]
        assert await dump(region, store, [2, 3]) == await dump(region, store, [])  # empty

        started = time.perf_counter()
        runs = await copy_everything(store, CHUNK)
        elapsed = time.perf_counter() - started
        moved = sum(chunk.keys for *_, chunk in runs)
        print(f"copied {moved} keys in {elapsed:.2f} s: {moved / elapsed:.0f} keys/s")

        expected = {
            key
            for shard in OLD_RING
            for key in await keys_of(store.pools.shards[shard])
            if shard_of(*key, TO_RING) >= FROM_RING
        }
        assert moved == len(expected) == sum(chunk.written for *_, chunk in runs)
        assert sum(chunk.copies for *_, chunk in runs) > 0
        for shard in (2, 3):
            held = await keys_of(store.pools.shards[shard])
            assert held == {k for k in expected if shard_of(*k, TO_RING) == shard}

        for run in runs:
            diff = await verify(store, run)
            assert diff.clean, (run, diff)
            assert diff.source.keys == run[3].keys
        for run in runs:
            await rerun(store, run)

        cleaned = await clean_everything(store, CHUNK)
        assert sum(chunk.keys for chunk in cleaned) == moved
        assert all(not chunk.kept for chunk in cleaned)
        for shard in NEW_RING:
            held = await keys_of(store.pools.shards[shard])
            assert all(shard_of(*key, TO_RING) == shard for key in held)
        assert await dump(region, store, NEW_RING) == old_ring
        assert sum(chunk.keys for chunk in await clean_everything(store, CHUNK)) == 0
        assert await dump(region, store, NEW_RING) == old_ring


def moving(keys: set[ChunkKey]) -> set[ChunkKey]:
    """The keys of `keys` the new ring places on a new shard."""
    return {k for k in keys if shard_of(*k, TO_RING) >= FROM_RING}


async def test_a_catch_up_copy_merges_what_the_old_ring_got_after_the_copy(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_catch_up")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 1000)
        runs = await copy_everything(store, CHUNK)
        later = await write_later(store, 20)
        old_ring = await dump(region, store, OLD_RING)

        diffs = [await verify(store, run) for run in runs]
        assert sum(diff.mismatch_count for diff in diffs) == 0
        behind = moving(later.new) | later.duplicated | later.overtaken
        assert sum(diff.behind for diff in diffs) == len(behind)
        assert sum(diff.ahead for diff in diffs) == 0
        assert not all(diff.clean for diff in diffs)

        caught_up = await copy_everything(store, CHUNK)

        assert sum(chunk.written for *_, chunk in caught_up) == len(moving(later.new)) > 0
        # The duplicate adds a copy; the earlier record replaces the winner row (now warm).
        assert sum(chunk.merged for *_, chunk in caught_up) == 40
        for run in caught_up:
            assert (await verify(store, run)).clean, run
        again = await copy_everything(store, CHUNK)
        assert sum(chunk.written + chunk.merged for *_, chunk in again) == 0
        await clean_everything(store, CHUNK)
        assert await dump(region, store, NEW_RING) == old_ring


async def test_a_copy_during_dual_writes_neither_deadlocks_nor_loses_a_record(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_dual")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 1000)
        await copy_everything(store, CHUNK)
        await write_later(store, 20)  # before dual-write: for the catch-up copy to merge
        records = await later_records(store, 60, ("n7", "n8", "n9"))

        async def dual_write(batch: list[DedupRecord]) -> None:
            # The old ring first, then the new one, as every writer does during dual-write.
            for ring in (FROM_RING, TO_RING):
                by_shard: dict[int, list[DedupRecord]] = {}
                for record in batch:
                    shard = shard_of(record.tenant_id, record.event_id, ring)
                    by_shard.setdefault(shard, []).append(record)
                for shard, held in sorted(by_shard.items()):
                    await apply_to_shard(store.pools.shards[shard], held, None)

        async def ingest() -> None:
            for start in range(0, len(records), 6):
                await dual_write(records[start : start + 6])

        # The catch-up copy, in small chunks, while dual writes go on; then once more after.
        await asyncio.gather(ingest(), copy_everything(store, 20))
        old_ring = await dump(region, store, OLD_RING)
        for run in await copy_everything(store, CHUNK):
            diff = await verify(store, run)
            assert diff.clean and diff.ahead == 0, (run, diff)
        await clean_everything(store, CHUNK)
        assert await dump(region, store, NEW_RING) == old_ring


async def test_a_tampered_target_row_is_listed_and_never_cleaned_up(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_tamper")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 400)
        runs = await copy_everything(store, 1000)
        run = next(r for r in runs if r[:2] == (0, 2))
        source, target = store.pools.shards[0], store.pools.shards[2]
        warm = await target.fetch(
            "SELECT tenant_id, event_id FROM dedup_events WHERE body_tier = 1 ORDER BY 1, 2"
        )
        copied = await target.fetch(
            "SELECT tenant_id, event_id, region, node, seq FROM dedup_copies ORDER BY 1, 2"
        )
        from_0 = [tuple(r) for r in warm if shard_of(r[0], r[1], FROM_RING) == 0]
        candidates = [
            tuple(r)
            for r in copied
            if shard_of(r[0], r[1], FROM_RING) == 0 and (r[0], r[1]) != from_0[0]
        ]
        # Of two different keys: every 65th key has two copies, and a told-otherwise copy and a
        # missing one of the same key count as one mismatch and nothing behind.
        told = candidates[0]
        missing = next(c for c in candidates if c[:2] != told[:2])
        plain, extra = [
            k
            for k in sorted(await keys_of(target))
            if shard_of(*k, FROM_RING) == 0 and k not in (from_0[0], told[:2], missing[:2])
        ][:2]
        # A changed column, a changed body as stored, a copy told otherwise: mismatches.
        await target.execute(
            "UPDATE dedup_events SET accepted_at_ms = accepted_at_ms + 1 "
            "WHERE tenant_id = $1 AND event_id = $2",
            *plain,
        )
        await target.execute(
            "UPDATE dedup_events SET warm_body = warm_body || '\\x00'::bytea "
            "WHERE tenant_id = $1 AND event_id = $2",
            *from_0[0],
        )
        await target.execute(
            "UPDATE dedup_copies SET digest = sha256(digest) "
            "WHERE (tenant_id, event_id, region, node, seq) = ($1, $2, $3, $4, $5)",
            *told,
        )
        # A missing copy (behind), a copy the source lacks (ahead).
        await target.execute(
            "DELETE FROM dedup_copies "
            "WHERE (tenant_id, event_id, region, node, seq) = ($1, $2, $3, $4, $5)",
            *missing,
        )
        await target.execute(
            "INSERT INTO dedup_copies SELECT tenant_id, event_id, 'eu', 'n9', 1, hlc + 1, digest "
            "FROM dedup_events WHERE tenant_id = $1 AND event_id = $2",
            *extra,
        )
        # A key of the source the new ring places on shard 3, on shard 2 as well: misplaced.
        on_3 = await keys_of(store.pools.shards[3])
        misplaced = min(k for k in on_3 if shard_of(*k, FROM_RING) == 0)
        row = await source.fetchrow(
            "SELECT * FROM dedup_events WHERE tenant_id = $1 AND event_id = $2", *misplaced
        )
        await target.copy_records_to_table("dedup_events", records=[tuple(row)], columns=row.keys())
        tampered = sorted({plain, from_0[0], told[:2], misplaced})
        assert len(tampered) == 4

        diff = await verify(store, run, max_listed=1)
        assert (diff.mismatch_count, diff.mismatches) == (4, (tampered[0],))
        assert (diff.behind, diff.ahead) == (1, 1)
        assert not diff.clean and diff.source != diff.target
        full = await verify(store, run, max_listed=run[3].keys)
        assert list(full.mismatches) == tampered

        objects = open_object_store(region.object_store)
        key = await write_mismatches(objects, "us-2to4-0000abcd", "s0-t2-0", full.mismatches)
        lines = (await objects.get(key)).decode().splitlines()
        assert [tuple(json.loads(line).values()) for line in lines] == tampered

        # A mismatch re-checked after the target was set right is settled; the others are not.
        await target.execute(
            "UPDATE dedup_events SET accepted_at_ms = accepted_at_ms - 1 "
            "WHERE tenant_id = $1 AND event_id = $2",
            *plain,
        )
        others = sorted({from_0[0], told[:2], missing[:2], extra})
        rechecked = await recheck_keys(
            source, target, [plain, *others], from_ring=FROM_RING, to_ring=TO_RING
        )
        assert rechecked == others

        # The target ahead covers the key: cleanup deletes it; the others stay.
        cleaned = await clean_everything(store, 1000)
        assert {key for chunk in cleaned for key in chunk.kept} == set(others) - {extra}
        assert set(others) - {extra} <= await keys_of(source)
        assert extra not in await keys_of(source)


async def test_cleanup_deletes_a_key_its_new_shard_is_ahead_of(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_ahead")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 300)
        await copy_everything(store, 1000)
        target = store.pools.shards[2]
        hot = await target.fetch(
            "SELECT tenant_id, event_id FROM dedup_events WHERE body_tier = 0 ORDER BY 1, 2"
        )
        duplicated, overtaken, demoted = [await stored_record(target, *k) for k in hot[:3]]
        # After cutover writes go to the new ring only: a later duplicate, an earlier record
        # that takes over; and a body demoted on the new shard alone.
        await apply_to_shard(
            target,
            [
                replace(duplicated, hlc=duplicated.hlc + 1, node="n7", seq=1),
                replace(overtaken, hlc=overtaken.hlc - 1, node="n8", seq=1),
            ],
            None,
        )
        await make_warm(target, demoted)
        old_holders = {
            (r.tenant_id, r.event_id): shard_of(r.tenant_id, r.event_id, FROM_RING)
            for r in (duplicated, overtaken, demoted)
        }

        cleaned = await clean_everything(store, 1000)

        demoted_key = (demoted.tenant_id, demoted.event_id)
        assert [key for chunk in cleaned for key in chunk.kept] == [demoted_key]
        for key, shard in old_holders.items():
            assert (key in await keys_of(store.pools.shards[shard])) == (key == demoted_key)
        copies = await target.fetch(
            "SELECT node FROM dedup_copies WHERE (tenant_id, event_id) IN (($1, $2), ($3, $4))",
            duplicated.tenant_id,
            duplicated.event_id,
            overtaken.tenant_id,
            overtaken.event_id,
        )
        assert sorted(r["node"] for r in copies if r["node"] in ("n1", "n7")) == ["n1", "n7"]


async def test_a_key_already_on_the_target_with_another_row_is_refused(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_conflict")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 200)
        await copy_everything(store, 1000)
        key = sorted(await keys_of(store.pools.shards[2]))[0]
        await store.pools.shards[2].execute(
            "UPDATE dedup_events SET hlc = hlc + 1 WHERE tenant_id = $1 AND event_id = $2", *key
        )
        deleted = await store.pools.shards[2].execute(
            "DELETE FROM dedup_copies WHERE tenant_id = $1 AND event_id <> $2", key[0], key[1]
        )
        assert deleted != "DELETE 0"
        source = shard_of(*key, FROM_RING)
        with pytest.raises(ReshardConflictError, match=f"{key[0]}/{key[1]}"):
            await copy_chunk(
                store.pools.shards[source],
                store.pools.shards[2],
                from_ring=FROM_RING,
                to_ring=TO_RING,
                source_shard=source,
                target_shard=2,
                after_key=None,
                limit=1000,
            )
        # The refused chunk wrote nothing: the copies deleted above are still missing.
        missing = await store.pools.shards[2].fetchval(
            "SELECT count(*) FROM dedup_copies WHERE tenant_id = $1 AND event_id <> $2", *key
        )
        assert missing == 0


async def test_undo_after_copy_empties_the_new_shards(running_stack: RunningStack) -> None:
    region = await ring_region(running_stack, "rs_undo")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 600)
        old_ring = await dump(region, store, OLD_RING)
        runs = await copy_everything(store, 100)
        undone = await undo_everything(store, 100)
        assert sum(chunk.keys for chunk in undone) == sum(chunk.keys for *_, chunk in runs)
        for shard in (2, 3):
            assert await keys_of(store.pools.shards[shard]) == set()
        assert await dump(region, store, OLD_RING) == old_ring
        assert sum(chunk.keys for chunk in await undo_everything(store, 100)) == 0


async def test_a_new_shard_claims_the_lowest_position_of_the_old_ones(
    running_stack: RunningStack,
) -> None:
    region = await ring_region(running_stack, "rs_positions")
    async with await DedupStore.open(region) as store:
        shards = store.pools.shards
        held = [{"us/n1": 10, "eu/n1": 4}, {"us/n1": 7}, {"us/n1": 9, "eu/n2": 3}, {}]
        for pool, positions in zip(shards, held, strict=True):
            for stream, seq in positions.items():
                await pool.execute(
                    "INSERT INTO applied_positions (stream, seq) VALUES ($1, $2)", stream, seq
                )

        # Shard 2 is at us/n1 9 already (dual writes), above the old shards' lowest: kept.
        assert await seal_positions(shards[:2], shards[2]) == {"us/n1": 9, "eu/n1": 0}
        assert await seal_positions(shards[:2], shards[3]) == {"us/n1": 7, "eu/n1": 0}
        assert await fetch_positions(shards[2]) == {"us/n1": 9, "eu/n1": 0, "eu/n2": 3}

        assert await clear_positions(shards[2]) == 3
        assert await fetch_positions(shards[2]) == {}
        assert await fetch_positions(shards[0]) == held[0]


@pytest.mark.parametrize(
    ("mover", "point"), [("copy", CRASH_BEFORE_INSERT), ("cleanup", CRASH_BEFORE_DELETE)]
)
async def test_a_kill_at_each_crash_point_loses_and_doubles_nothing(
    running_stack: RunningStack, mover: str, point: str
) -> None:
    region = await ring_region(running_stack, f"rs_kill_{mover}")
    async with await DedupStore.open(region) as store:
        await populate(store, region, 500)
        old_ring = await dump(region, store, OLD_RING)
        if mover == "cleanup":
            await copy_everything(store, 1000)
        before = {s: await dump(region, store, [s]) for s in NEW_RING}

        returncode, stderr = await _run(region, mover, point)

        assert returncode == -signal.SIGKILL, stderr.decode()
        assert {s: await dump(region, store, [s]) for s in NEW_RING} == before
        if mover == "copy":
            await copy_everything(store, 1000)
        await clean_everything(store, 1000)
        assert await dump(region, store, NEW_RING) == old_ring
        for shard in NEW_RING:
            assert all(
                shard_of(*k, TO_RING) == shard for k in await keys_of(store.pools.shards[shard])
            )


async def _run(region: RegionConfig, mover: str, point: str) -> tuple[int | None, bytes]:
    """Run one chunk of `mover` in a process told to die at `point`: its exit code and stderr."""
    process = await asyncio.create_subprocess_exec(
        *crash_command(region, mover, 1000),
        env={**os.environ, CRASH_AT_ENV: point},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, stderr
