"""The cold pack format (storage/tiering/packs.py) on the local file-system store: round trips,
the documented layout, and tables of corruptions of which none may read back as a pack.

The same writes and reads on S3 and GCS are in tests/integration/test_tiering_packs.py.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from ledger.cold_location import ColdLocation
from storage.objectstore.local import LocalObjectStore
from storage.tiering.pack_errors import (
    PackError,
    PackHashMismatch,
    PackMagicMismatch,
    PackMalformed,
    PackNotFound,
    PackTruncated,
    PackVersionUnsupported,
)
from storage.tiering.pack_reader import read_blob, read_index
from storage.tiering.packs import (
    ENTRY,
    HEADER,
    MAGIC,
    TRAILER,
    BuiltPack,
    PackBuilder,
    pack_key,
    write_pack,
)

TENANT = "acme.eu"
BLOBS = {
    "evt-1": b"\x00" + b'{"one":1}',
    "evt:2": b"\x01" + bytes(range(256)) * 3,
    "evt.3": b"\x00",  # the smallest blob: a codec header and an empty body
    "evt_4": b"\x02" + b"d" * 16 + b"frame",
}
# The pack of BLOBS for TENANT, pinned: a change of the format must change FORMAT_VERSION.
# Reproduce: .venv/bin/python -c "from tests.unit.test_tiering_pack_format import build;
#   print(build().pack_id)"
PINNED_PACK_ID = "42c8be8d365fa5f3f6a9fddaff48b5da"

TRAILER_INDEX_SHA256 = 0
TRAILER_INDEX_OFFSET = 32
TRAILER_ENTRY_COUNT = 48
TRAILER_VERSION = 52
TRAILER_MAGIC = 56


def build(tenant: str = TENANT, blobs: dict[str, bytes] = BLOBS) -> BuiltPack:
    builder = PackBuilder(tenant)
    for event_id, blob in blobs.items():
        builder.add(tenant, event_id, blob)
    return builder.finish()


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    root = tmp_path / "store"
    root.mkdir()
    return LocalObjectStore(root)


@pytest.fixture
async def written(store: LocalObjectStore) -> BuiltPack:
    built = build()
    assert await write_pack(store, TENANT, built) is True
    return built


async def replace_pack(store: LocalObjectStore, built: BuiltPack, data: bytes) -> None:
    await store.put(pack_key(TENANT, built.pack_id), data)


def flip(data: bytes, position: int) -> bytes:
    damaged = bytearray(data)
    damaged[position] ^= 0x01
    return bytes(damaged)


def trailer_start(data: bytes) -> int:
    return len(data) - TRAILER.size


def patched(data: bytes, position: int, value: bytes) -> bytes:
    return data[:position] + value + data[position + len(value) :]


def index_of(data: bytes) -> tuple[int, bytes]:
    _, offset, length, _, _, _ = TRAILER.unpack(data[-TRAILER.size :])
    return offset, data[offset : offset + length]


def with_index(data: bytes, index: bytes, entry_count: int | None = None) -> bytes:
    """`data` with its index replaced and a trailer that vouches for the new one (right hash,
    offsets and, unless given, count): damage that only the parser itself can find."""
    offset, _ = index_of(data)
    _, _, _, count, version, magic = TRAILER.unpack(data[-TRAILER.size :])
    trailer = TRAILER.pack(
        hashlib.sha256(index).digest(),
        offset,
        len(index),
        count if entry_count is None else entry_count,
        version,
        magic,
    )
    return data[:offset] + index + trailer


def entry_start(index: bytes, number: int) -> int:
    position = 1 + index[0]  # past the tenant's length and name
    for _ in range(number):
        position += ENTRY.size + index[position + ENTRY.size - 1]
    return position


# --- round trips and layout ----------------------------------------------------------------------


async def test_every_blob_reads_back_and_the_index_rebuilds_every_location(
    store: LocalObjectStore, written: BuiltPack
) -> None:
    assert [(entry.tenant, entry.event_id) for entry in written.entries] == [
        (TENANT, event_id) for event_id in BLOBS
    ]
    for entry in written.entries:
        assert await read_blob(store, TENANT, entry.location) == BLOBS[entry.event_id]
    assert await read_index(store, TENANT, written.pack_id) == written.entries


async def test_a_pack_is_stored_once_under_its_content_address(
    store: LocalObjectStore, written: BuiltPack
) -> None:
    sha256 = hashlib.sha256(written.data).hexdigest()
    assert (written.sha256, written.pack_id) == (sha256, sha256[:32])
    key = f"tiering/packs/{TENANT}/{written.pack_id}.pack"
    assert await store.get(key) == written.data
    # A retried write of the same pack finds it and succeeds without writing.
    assert await write_pack(store, TENANT, build()) is False


def test_the_layout_is_the_documented_one() -> None:
    built = build()
    data = built.data
    assert HEADER.unpack(data[: HEADER.size]) == (MAGIC, 1)
    offsets = [(entry.location.offset, entry.location.length) for entry in built.entries]
    expected_offsets, position = [], HEADER.size
    for blob in BLOBS.values():
        expected_offsets.append((position, len(blob)))
        position += len(blob)
    assert offsets == expected_offsets
    index_sha256, index_offset, index_length, count, version, magic = TRAILER.unpack(
        data[-TRAILER.size :]
    )
    assert (index_offset, count, version, magic) == (position, len(BLOBS), 1, MAGIC)
    assert index_offset + index_length + TRAILER.size == len(data)
    assert index_sha256 == hashlib.sha256(data[index_offset : index_offset + index_length]).digest()
    assert data[index_offset : index_offset + 1 + len(TENANT)] == bytes([len(TENANT)]) + b"acme.eu"
    assert built.pack_id == PINNED_PACK_ID


def test_size_is_the_size_of_the_pack_finish_returns() -> None:
    builder = PackBuilder(TENANT)
    for event_id, blob in BLOBS.items():
        builder.add(TENANT, event_id, blob)
        assert builder.size == len(builder.finish().data)
    assert builder.count == len(BLOBS)


# --- corruptions: each a table row, each with its own error --------------------------------------


@dataclass(frozen=True)
class Corruption:
    name: str
    damage: Callable[[bytes], bytes]
    error: type[PackError]
    match: str


def foreign_pack(_: bytes) -> bytes:
    return build(tenant="other-tenant").data


def index_with_gap(data: bytes) -> bytes:
    _, index = index_of(data)
    second = entry_start(index, 1)
    offset, length, sha256, name_length = ENTRY.unpack(index[second : second + ENTRY.size])
    return with_index(
        data, patched(index, second, ENTRY.pack(offset + 1, length, sha256, name_length))
    )


def index_with_duplicate_event(data: bytes) -> bytes:
    _, index = index_of(data)
    second = entry_start(index, 1)
    return with_index(data, patched(index, second + ENTRY.size, b"evt-1"))


def index_with_bad_event_id(data: bytes) -> bytes:
    _, index = index_of(data)
    return with_index(data, patched(index, entry_start(index, 0) + ENTRY.size, b"evt/1"))


def index_cut_short(data: bytes) -> bytes:
    _, index = index_of(data)
    return with_index(data, index[:-3])


def index_missing_an_entry(data: bytes) -> bytes:
    _, index = index_of(data)
    return with_index(data, index[: entry_start(index, len(BLOBS) - 1)], len(BLOBS) - 1)


INDEX_CORRUPTIONS = [
    Corruption(
        "flipped-index-byte",
        lambda data: flip(data, index_of(data)[0] + 5),
        PackHashMismatch,
        "index: expected sha256",
    ),
    Corruption(
        "flipped-trailer-index-sha256",
        lambda data: flip(data, trailer_start(data) + TRAILER_INDEX_SHA256),
        PackHashMismatch,
        "index: expected sha256",
    ),
    Corruption(
        "flipped-trailer-index-offset",
        lambda data: flip(data, trailer_start(data) + TRAILER_INDEX_OFFSET),
        PackMalformed,
        "trailer: expected an index",
    ),
    Corruption(
        "flipped-trailer-entry-count",
        lambda data: flip(data, trailer_start(data) + TRAILER_ENTRY_COUNT),
        PackMalformed,
        "expected 5 entries",
    ),
    Corruption(
        "flipped-trailer-magic",
        lambda data: flip(data, trailer_start(data) + TRAILER_MAGIC),
        PackTruncated,
        "trailer is damaged",
    ),
    Corruption("truncated-by-one-byte", lambda data: data[:-1], PackTruncated, "truncated"),
    Corruption("truncated-in-the-blobs", lambda data: data[:40], PackTruncated, "starts as a pack"),
    Corruption(
        "wrong-magic",
        lambda data: patched(patched(data, 0, b"NOTAPACK"), len(data) - 8, b"NOTAPACK"),
        PackMagicMismatch,
        "got b'NOTAPACK'",
    ),
    Corruption(
        "wrong-version",
        lambda data: patched(data, trailer_start(data) + TRAILER_VERSION, struct.pack("<I", 2)),
        PackVersionUnsupported,
        "expected pack format version 1, got 2",
    ),
    Corruption("empty-object", lambda data: b"", PackMagicMismatch, "got b''"),
    Corruption(
        "foreign-object", lambda data: b"x" * len(data), PackMagicMismatch, "got b'xxxxxxxx'"
    ),
    Corruption("another-tenants-pack", foreign_pack, PackMalformed, "expected tenant 'acme.eu'"),
    Corruption("gap-between-blobs", index_with_gap, PackMalformed, "expected a blob at offset"),
    Corruption("duplicate-event-id", index_with_duplicate_event, PackMalformed, "twice"),
    Corruption("invalid-event-id", index_with_bad_event_id, PackMalformed, "entry 0 event id"),
    Corruption("index-cut-short", index_cut_short, PackMalformed, "entry 3 event id"),
    Corruption("entry-missing", index_missing_an_entry, PackMalformed, "ending at"),
]


@pytest.mark.parametrize("case", INDEX_CORRUPTIONS, ids=lambda case: case.name)
async def test_a_corrupt_pack_has_no_index(
    store: LocalObjectStore, written: BuiltPack, case: Corruption
) -> None:
    await replace_pack(store, written, case.damage(written.data))
    with pytest.raises(case.error, match=case.match) as raised:
        await read_index(store, TENANT, written.pack_id)
    assert raised.value.pack_id == written.pack_id


BLOB_CORRUPTIONS = [
    Corruption(
        "flipped-blob-byte",
        lambda data: flip(data, HEADER.size + 3),
        PackHashMismatch,
        "blob at 12 length 10: expected sha256",
    ),
    Corruption("truncated-in-the-blob", lambda data: data[:15], PackTruncated, "after 3 of"),
    Corruption("truncated-before-the-blob", lambda data: data[:5], PackTruncated, "after 0 of"),
]


@pytest.mark.parametrize("case", BLOB_CORRUPTIONS, ids=lambda case: case.name)
async def test_a_corrupt_blob_is_never_returned(
    store: LocalObjectStore, written: BuiltPack, case: Corruption
) -> None:
    await replace_pack(store, written, case.damage(written.data))
    with pytest.raises(case.error, match=case.match):
        await read_blob(store, TENANT, written.entries[0].location)


async def test_no_flipped_byte_of_the_trailer_or_an_index_entry_reads_as_the_pack(
    store: LocalObjectStore, written: BuiltPack
) -> None:
    # Every trailer byte (each belongs to a field a reader relies on) and the first byte of the
    # index's tenant and of each entry: the index hash covers the rest alike.
    index_offset, index = index_of(written.data)
    entries = [entry_start(index, number) for number in range(len(BLOBS))]
    positions = [index_offset + start for start in (0, 1, *entries)]
    positions += range(trailer_start(written.data), len(written.data))
    for position in positions:
        await replace_pack(store, written, flip(written.data, position))
        with pytest.raises(PackError):
            await read_index(store, TENANT, written.pack_id)


async def test_no_blob_with_a_flipped_first_or_last_byte_reads_as_that_blob(
    store: LocalObjectStore, written: BuiltPack
) -> None:
    for entry in written.entries:
        location = entry.location
        for position in {location.offset, location.end - 1}:
            await replace_pack(store, written, flip(written.data, position))
            with pytest.raises(PackHashMismatch):
                await read_blob(store, TENANT, location)


async def test_a_missing_pack_is_named_as_missing(store: LocalObjectStore) -> None:
    built = build()
    with pytest.raises(PackNotFound, match="no object under the pack's key"):
        await read_index(store, TENANT, built.pack_id)
    with pytest.raises(PackNotFound, match=built.pack_id):
        await read_blob(store, TENANT, built.entries[0].location)


async def test_a_damaged_object_under_the_pack_key_fails_the_write_and_stays(
    store: LocalObjectStore,
) -> None:
    built = build()
    damaged = flip(built.data, HEADER.size)
    await replace_pack(store, built, damaged)
    with pytest.raises(PackHashMismatch, match="stored pack: expected sha256"):
        await write_pack(store, TENANT, built)
    assert await store.get(pack_key(TENANT, built.pack_id)) == damaged


# --- what the builder and the location refuse ----------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "event_id", "blob", "match"),
    [
        ("other", "evt-9", b"\x00", "a pack holds one tenant: expected 'acme.eu', got 'other'"),
        (TENANT, "evt-1", b"\x00", "event 'evt-1' is already in this pack"),
        (TENANT, "evt/9", b"\x00", "expected only letters, digits"),
        (TENANT, "", b"\x00", "expected 1-128 characters"),
        (TENANT, "evt-9", b"", "expected a blob of 1 .."),
    ],
    ids=["other-tenant", "duplicate-event", "invalid-event-id", "empty-event-id", "empty-blob"],
)
def test_the_builder_refuses_what_a_pack_cannot_hold(
    tenant: str, event_id: str, blob: bytes, match: str
) -> None:
    builder = PackBuilder(TENANT)
    builder.add(TENANT, "evt-1", b"\x00")
    size = builder.size
    with pytest.raises(ValueError, match=match):
        builder.add(tenant, event_id, blob)
    assert (builder.count, builder.size) == (1, size)


def test_a_pack_holds_at_least_one_body_of_a_valid_tenant() -> None:
    with pytest.raises(ValueError, match=r"none was added for 'acme\.eu'"):
        PackBuilder(TENANT).finish()
    with pytest.raises(ValueError, match="expected a letter or digit first"):
        PackBuilder("-acme")


async def test_a_pack_is_written_only_for_its_own_tenant(store: LocalObjectStore) -> None:
    with pytest.raises(ValueError, match="expected a pack of tenant 'other', got one of"):
        await write_pack(store, "other", build())
    assert [info.key async for info in store.list()] == []


VALID_LOCATION = {"pack_id": "0" * 32, "offset": 12, "length": 1, "sha256": "f" * 64}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pack_id", "0" * 31),
        ("pack_id", "A" * 32),
        ("pack_id", "0" * 32 + "\n"),
        ("offset", -1),
        ("offset", "12"),
        ("length", 0),
        ("sha256", "f" * 63),
        ("sha256", "F" * 64),
    ],
)
def test_a_location_is_validated(field: str, value: object) -> None:
    assert ColdLocation.model_validate(VALID_LOCATION).end == 13
    with pytest.raises(ValidationError, match=field):
        ColdLocation.model_validate({**VALID_LOCATION, field: value})
