"""Retention inside cold packs: once expiry has deleted a tenant's expired rows in every shard of a
region (storage/tiering/expire.py), each of its packs that still holds an expired body's blob is
rewritten without it, so no expired body outlives retention in the cold tier (ARCHITECTURE §3
"Tiering").

The rule is "always": a pack holding any expired blob is rewritten however few they are, because
retention is a promise about every copy, not an optimisation. A blob is expired when no row at or
above the horizon, on any shard of the region, has its event id; it is live when such a row is
cold at exactly its location. The new pack holds the live blobs only, in the old pack's order
(blobs whose rows went hot or into another pack are dropped with the expired ones: nothing points
at them). Per pack:
1. the live blobs are copied, each SHA-256 checked, into a new pack that write_pack makes durable
   (read back and checked) in the tenant's cold class, and its dictionary counts are recorded;
2. one conditional UPDATE per shard moves each live row to its new location, only while it is
   still cold at the old pack id and offset and holds the winner that was read;
3. once no live row points at the old pack, its dictionary record is dropped, then its object.
A crash loses nothing: until step 2 every live row points at the old pack, which stays whole, and
the rewrite of the same live blobs builds the same bytes, hence the same content id, which
put_if_absent finds already there; after step 2 the rows point at a durable pack (a crash between
two shards' UPDATEs leaves the rest at the old pack, which the next run rewrites for them alone:
the first new pack keeps blobs nobody points at, never an expired one). A crash after
step 2 leaves the old pack named by no row: the next run finds it by listing the tenant's packs
(an unreferenced pack holding an expired blob) and finishes step 3. The listing is also how
packs are found at all, so a pack whose rows all expired but whose deletion was interrupted goes
too. A pack is left alone while a warm row at or above the horizon names one of its events: it
may be a pack demotion has written and not yet pointed at (demotion runs after expiry in the same
workflow, so this is a belt, not a lock).

A pack in an archive class cannot be read before a restore; it is counted and left for a later run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.cold_location import check_pack_id
from storage.faults import crash_point
from storage.objectstore import ObjectArchived, ObjectStore
from storage.tiering.body_row import BodyTier
from storage.tiering.codec import required_dictionary
from storage.tiering.demotion_rows import TENANT_COLUMN
from storage.tiering.pack_reader import read_index
from storage.tiering.packs import PACKS_PREFIX, PackBuilder, PackEntry, pack_key, write_pack
from storage.tiering.whole_packs import WholePacks

CRASH_AFTER_REWRITE_WRITTEN = "tier-rewrite-pack-written"
"""Crash point: the new pack is durable, every live row still points at the old one."""
CRASH_AFTER_REWRITE_MOVED = "tier-rewrite-rows-moved"
"""Crash point: the live rows point at the new pack, the old one is still stored."""

ROWS_OF_EVENTS = """
SELECT event_id, region, node, seq, hlc, body_tier, cold_pack_id, cold_offset, cold_length,
       cold_sha256
FROM dedup_events
WHERE tenant_id = $1 AND event_id = ANY ($2::text[]) AND hlc >= $3
"""
# The tenant is a column of the batch, not a constant: see demotion_rows.TENANT_COLUMN.
MOVE_ROWS = f"""
UPDATE dedup_events AS d
SET cold_pack_id = $2, cold_offset = m.new_offset
FROM unnest({TENANT_COLUMN.format(event_ids="$4")},
            $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[])
    AS m(tenant_id, event_id, region, node, seq, old_offset, new_offset)
WHERE d.tenant_id = m.tenant_id AND d.event_id = m.event_id AND d.region = m.region
  AND d.node = m.node AND d.seq = m.seq AND d.body_tier = {BodyTier.COLD:d}
  AND d.cold_pack_id = $3 AND d.cold_offset = m.old_offset
RETURNING d.event_id
"""
STILL_NAMED = """
SELECT 1 FROM dedup_events WHERE tenant_id = $1 AND cold_pack_id = $2 AND hlc >= $3 LIMIT 1
"""

PackRecorder = Callable[[str, str, Mapping[str, int]], Awaitable[None]]
"""Records (tenant, pack id, blobs per dictionary id) of a pack just made durable."""
PackForgetter = Callable[[str, Sequence[str]], Awaitable[None]]
"""Drops what is recorded of a tenant's deleted packs: (tenant, pack ids)."""


@dataclass(frozen=True)
class PackRewrites:
    """What one pass did: packs rewritten, expired blobs they dropped, rows moved to the new
    packs, old or unreferenced packs deleted, and archived packs left for a later run."""

    rewritten: int = 0
    dropped: int = 0
    moved: int = 0
    deleted: int = 0
    archived: int = 0


@dataclass(frozen=True)
class _LiveRow:
    """A row at or above the horizon cold at an entry's exact location: the winner it held."""

    entry: PackEntry
    region: str
    node: str
    seq: int


@dataclass(frozen=True)
class _PackState:
    """One pack judged against the rows of the region: its live rows, in pack order, whether it
    holds an expired blob, and whether a warm row may be on its way into it."""

    live: tuple[_LiveRow, ...]
    expired: int
    warm: bool


async def rewrite_packs(
    ring: Sequence[Any],
    store: ObjectStore,
    tenant: str,
    horizon_hlc: int,
    storage_class: str | None,
    record_pack: PackRecorder,
    forget_packs: PackForgetter,
) -> PackRewrites:
    """Rewrite or delete every pack of `tenant` in `store` that holds an expired blob, against
    the rows of `ring` (asyncpg pools, every shard of the region) at or above `horizon_hlc`.

    Requires the tenant's expiry done on every shard of `ring`. New packs go into
    `storage_class`; `record_pack` gets their dictionary counts before any row points at them,
    `forget_packs` the old ones before their objects go. Re-running does nothing more. Raises
    the pack errors of a pack whose bytes are not its id's, asyncpg and object store errors as
    they come.
    """
    totals = Counter[str]()
    prefix = f"{PACKS_PREFIX}/{tenant}/"
    listed = [info.key.removeprefix(prefix) async for info in store.list(prefix=prefix)]
    pack_ids = [name.removesuffix(".pack") for name in listed if _is_pack_name(name)]
    for pack_id in pack_ids:
        try:
            entries = await read_index(store, tenant, pack_id)
        except ObjectArchived:
            totals["archived"] += 1
            continue
        state = await _judge(ring, tenant, horizon_hlc, entries)
        if not state.expired or state.warm:
            continue
        if state.live:
            try:
                moved = await _rewrite(
                    ring, store, tenant, pack_id, state.live, storage_class, record_pack
                )
            except ObjectArchived:
                totals["archived"] += 1
                continue
            totals.update(rewritten=1, dropped=state.expired, moved=moved)
        if await _named_by_any(ring, tenant, pack_id, horizon_hlc):
            continue  # a row changed under the UPDATE: the next run judges the pack again
        # The record first: a crash before the object goes leaves a pack the listing finds again.
        await forget_packs(tenant, [pack_id])
        await store.delete(pack_key(tenant, pack_id))
        totals["deleted"] += 1
    return PackRewrites(**totals)


async def _judge(
    ring: Sequence[Any], tenant: str, horizon_hlc: int, entries: Sequence[PackEntry]
) -> _PackState:
    by_event = {entry.event_id: entry for entry in entries}
    rows = [
        row
        for shard in ring
        for row in await shard.fetch(ROWS_OF_EVENTS, tenant, list(by_event), horizon_hlc)
    ]
    present = {row["event_id"] for row in rows}
    live = {
        row["event_id"]: _LiveRow(by_event[row["event_id"]], row["region"], row["node"], row["seq"])
        for row in rows
        if row["body_tier"] == BodyTier.COLD and _at(row, by_event[row["event_id"]])
    }
    return _PackState(
        live=tuple(live[entry.event_id] for entry in entries if entry.event_id in live),
        expired=sum(entry.event_id not in present for entry in entries),
        warm=any(row["body_tier"] == BodyTier.WARM for row in rows),
    )


def _at(row: Any, entry: PackEntry) -> bool:
    """Whether `row` points at exactly `entry`'s blob."""
    location = entry.location
    return (
        row["cold_pack_id"] == location.pack_id
        and row["cold_offset"] == location.offset
        and row["cold_length"] == location.length
        and bytes(row["cold_sha256"]).hex() == location.sha256
    )


async def _rewrite(
    ring: Sequence[Any],
    store: ObjectStore,
    tenant: str,
    old_pack_id: str,
    live: Sequence[_LiveRow],
    storage_class: str | None,
    record_pack: PackRecorder,
) -> int:
    """Copy the live blobs into a new durable pack and move their rows to it; the rows moved."""
    # The blob bytes are copied, not decoded: each is checked against the SHA-256 its row
    # names, which is what every later read checks again before decoding.
    blobs = WholePacks(store, {(tenant, old_pack_id): len(live)})
    builder = PackBuilder(tenant)
    needed = Counter[str]()
    for row in live:
        blob = await blobs.blob(tenant, row.entry.location)
        builder.add(tenant, row.entry.event_id, blob)
        dict_id = required_dictionary(blob)
        if dict_id is not None:
            needed[dict_id] += 1
    built = builder.finish()
    await write_pack(store, tenant, built, storage_class)
    crash_point(CRASH_AFTER_REWRITE_WRITTEN)
    await record_pack(tenant, built.pack_id, dict(needed))
    arguments = (
        [row.entry.event_id for row in live],
        [row.region for row in live],
        [row.node for row in live],
        [row.seq for row in live],
        [row.entry.location.offset for row in live],
        [entry.location.offset for entry in built.entries],
    )
    moved = 0
    for shard in ring:
        moved += len(await shard.fetch(MOVE_ROWS, tenant, built.pack_id, old_pack_id, *arguments))
    crash_point(CRASH_AFTER_REWRITE_MOVED)
    return moved


def _is_pack_name(name: str) -> bool:
    """Whether `name` (a key below the tenant's pack prefix) is `<pack id>.pack`: anything else
    there is no pack of ours, and is left alone."""
    try:
        check_pack_id(name.removesuffix(".pack"))
    except ValueError:
        return False
    return name.endswith(".pack")


async def _named_by_any(ring: Sequence[Any], tenant: str, pack_id: str, horizon_hlc: int) -> bool:
    for shard in ring:
        if await shard.fetchval(STILL_NAMED, tenant, pack_id, horizon_hlc) is not None:
            return True
    return False
