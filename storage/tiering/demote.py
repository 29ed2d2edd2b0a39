"""Demotion of one tenant's bodies on one dedup shard, one batch at a time: hot -> warm (a codec
blob in the row) and warm -> cold (a pack in the region's object store).

A body leaves its tier only once the next tier holds it durably and provably:
- hot -> warm: the body passes check_body, is encoded with the tenant's policy (a body zstd
  would not shrink is stored raw and counted), and its blob is decoded back and compared before
  the row's UPDATE writes blob and tier in one statement;
- warm -> cold: each blob is decoded and passes check_body, the blobs go into one pack of about
  the target size, write_pack stores the pack in the tenant's cold class for the store's kind
  (storage/tiering/cold_class.py) and reads it back SHA-256 checked, and only then one UPDATE
  points the rows at their blobs.
A SIGKILL anywhere therefore leaves every row in the tier it was in or the one after, whole: a
pack written without its UPDATE holds copies nobody points at, and the next run rebuilds the
same pack (same rows, same bytes, same content id), which put_if_absent finds already there.
Rows whose winner or tier changed after they were read are skipped (storage/tiering/demotion_rows).

Each body is checked once per move, each new copy proven once, and no more:
- check_body before hot -> warm: the hot body must be the signed event its digest names before
  any copy of it is made (the digest is what the dedup decision was made on);
- decoding the warm blob back and comparing bytes: the encoder's output is the only copy once the
  hot body is gone, so it is proven before the UPDATE drops the body;
- check_body on the decoded warm blob before warm -> cold: the blob sat in the shard since and a
  damaged codec header reads as another body, which zstd's checksum does not catch;
- the pack's read-back (write_pack): the SAME blob bytes are packed, so comparing the stored pack's
  SHA-256 with the built one proves every blob without decoding any of them again.

TTLs count from a row's accepted_at_ms up to `as_of_ms`, an explicit argument (the injectable
clock). Each batch returns its counts and the checkpoint the next batch starts from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from ledger.demotion_batch import DemotionBatch
from ledger.tier_policy import TierPolicy
from storage.faults import crash_point
from storage.objectstore import ObjectStore
from storage.tiering.body_check import check_body
from storage.tiering.body_row import BodyTier
from storage.tiering.codec import BodyCodec, decode, encode, encode_raw, required_dictionary
from storage.tiering.cold_class import pack_storage_class
from storage.tiering.demotion_rows import (
    TierRow,
    fetch_rows,
    move_to_cold,
    move_to_warm,
)
from storage.tiering.dictionaries import Dictionary, DictionaryStore
from storage.tiering.errors import BodyIntegrityError
from storage.tiering.metrics import COLD_DRIVER_ERRORS, TIER_DEMOTIONS, cold_failure_reason
from storage.tiering.packs import PackBuilder, write_pack

DAY_MS = 86_400_000

PackRecorder = Callable[[str, str, Mapping[str, int]], Awaitable[None]]
"""Records (tenant, pack id, blobs per dictionary id) of a pack just made durable."""

CRASH_AFTER_WARM_UPDATE = "tier-demote-warm-updated"
"""Crash point: a batch's rows hold their warm blobs, the batch has not returned."""
CRASH_AFTER_PACK_WRITTEN = "tier-demote-pack-written"
"""Crash point: the pack is durable, no row points at it yet."""
CRASH_AFTER_COLD_UPDATE = "tier-demote-cold-updated"
"""Crash point: the rows point at their pack, the batch has not returned."""


def leaves_tier_by_ms(ttl_days: int, as_of_ms: int) -> int:
    """The latest accepted_at_ms of a body past a TTL of `ttl_days` at `as_of_ms`."""
    return as_of_ms - ttl_days * DAY_MS


async def demote_to_warm(
    db: object,
    tenant: str,
    policy: TierPolicy,
    dictionary: Dictionary | None,
    as_of_ms: int,
    after: str,
    limit: int,
) -> DemotionBatch:
    """Move up to `limit` of `tenant`'s hot bodies past the hot TTL, after checkpoint `after`,
    to warm on shard `db` (an asyncpg pool or connection).

    Encodes with the policy's compression, level and `dictionary` (used only with compression).
    Raises BodyIntegrityError naming the key when a hot body is not the signed event its row's
    digest names, or when a blob does not decode back to its body; nothing of the batch moves.
    """
    accepted_by = leaves_tier_by_ms(policy.hot_ttl_days, as_of_ms)
    rows = await fetch_rows(db, tenant, after, BodyTier.HOT, accepted_by, limit)
    dictionaries = {dictionary.dict_id: dictionary} if dictionary is not None else {}
    blobs: list[bytes] = []
    stored_raw = 0
    for row in rows:
        check_body(tenant, row.event_id, row.body, row.digest)
        if policy.compression:
            encoded = encode(row.body, policy.compression_level, dictionary)
            stored_raw += encoded.codec is BodyCodec.RAW
        else:
            encoded = encode_raw(row.body)
        if decode(encoded.blob, dictionaries, len(row.body)) != row.body:
            raise BodyIntegrityError(
                tenant, row.event_id, "expected its warm blob to decode to the body, got others"
            )
        blobs.append(encoded.blob)
    moved = await move_to_warm(db, tenant, rows, blobs) if rows else set()
    crash_point(CRASH_AFTER_WARM_UPDATE)
    TIER_DEMOTIONS.labels("hot", "warm").inc(len(moved))
    return DemotionBatch(
        read=len(rows),
        moved=len(moved),
        skipped=len(rows) - len(moved),
        stored_raw=stored_raw,
        bytes_in=sum(len(row.body) for row in rows),
        bytes_out=sum(len(blob) for blob in blobs),
        next_after=rows[-1].event_id if len(rows) == limit else None,
    )


async def demote_to_cold(
    db: object,
    store: ObjectStore,
    dictionaries: DictionaryStore,
    tenant: str,
    policy: TierPolicy,
    as_of_ms: int,
    after: str,
    *,
    page_rows: int,
    pack_target_bytes: int,
    max_body_bytes: int,
    record_pack: PackRecorder,
) -> DemotionBatch:
    """Move `tenant`'s warm bodies past the warm TTL, after checkpoint `after`, into one pack in
    `store` that closes at the first body bringing it to `pack_target_bytes`, reading rows
    `page_rows` at a time; warm blobs decode to at most `max_body_bytes`. Once the pack is
    durable and before any row points at it, `record_pack` is given the pack's id and how many
    of its blobs need each dictionary (their codec headers say), for `geoledger tier dicts`.

    Raises BodyIntegrityError (or a BodyDecodeError) naming the key of a warm blob that is not
    its row's body, before anything is written; the object store's and pack errors when the
    pack cannot be written and proven (no row moves, the metric cold_driver_errors_total counts
    it).
    """
    accepted_by = leaves_tier_by_ms(policy.warm_ttl_days, as_of_ms)
    builder = PackBuilder(tenant)
    packed: list[TierRow] = []
    cursor, walk_done = after, False
    while builder.size < pack_target_bytes and not walk_done:
        page = await fetch_rows(db, tenant, cursor, BodyTier.WARM, accepted_by, page_rows)
        walk_done = len(page) < page_rows
        for row in page:
            await _check_warm(dictionaries, tenant, row, max_body_bytes)
            builder.add(tenant, row.event_id, row.body)
            packed.append(row)
            cursor = row.event_id
            if builder.size >= pack_target_bytes:
                walk_done = walk_done and row is page[-1]
                break
    if not packed:
        return DemotionBatch(
            read=0, moved=0, skipped=0, stored_raw=0, bytes_in=0, bytes_out=0, next_after=None
        )
    built = builder.finish()
    try:
        await write_pack(store, tenant, built, pack_storage_class(policy, store))
    except Exception as exc:
        COLD_DRIVER_ERRORS.labels("write_pack", cold_failure_reason(exc)).inc()
        raise
    crash_point(CRASH_AFTER_PACK_WRITTEN)
    needed = Counter(required_dictionary(row.body) for row in packed)
    await record_pack(tenant, built.pack_id, {i: n for i, n in needed.items() if i is not None})
    locations = [entry.location for entry in built.entries]
    moved = await move_to_cold(db, tenant, built.pack_id, packed, locations)
    crash_point(CRASH_AFTER_COLD_UPDATE)
    TIER_DEMOTIONS.labels("warm", "cold").inc(len(moved))
    return DemotionBatch(
        read=len(packed),
        moved=len(moved),
        skipped=len(packed) - len(moved),
        stored_raw=0,
        bytes_in=sum(len(row.body) for row in packed),
        bytes_out=len(built.data),
        next_after=None if walk_done else cursor,
        pack_id=built.pack_id,
    )


async def _check_warm(
    dictionaries: DictionaryStore, tenant: str, row: TierRow, max_body_bytes: int
) -> None:
    """Raise unless the row's warm blob decodes to the signed event its digest names."""
    dict_id = required_dictionary(row.body)
    needed = {dict_id: await dictionaries.load(tenant, dict_id)} if dict_id is not None else {}
    check_body(tenant, row.event_id, decode(row.body, needed, max_body_bytes), row.digest)
