"""Cold packs: many bodies of one tenant in one object of the region's object store, each body one
independently decodable codec blob that a single range GET reads (ARCHITECTURE §3 "Tiering").

A pack is content-addressed: its id is the first 16 bytes of the SHA-256 of its bytes, in hex,
and it is stored once, under `tiering/packs/<tenant>/<pack_id>.pack`, with `put_if_absent`. A
pack describes itself: its index and trailer rebuild every body's `ColdLocation` without any
other table. Blobs are opaque here (the codec encodes and decodes them); this module builds,
writes and documents the format, `storage.tiering.pack_reader` reads and checks it.

Format version 1; every integer is unsigned little-endian:

| bytes                        | what                                                          |
|------------------------------|---------------------------------------------------------------|
| 0 .. 8                       | magic `GEOLPACK`                                              |
| 8 .. 12                      | format version (u32) = 1                                      |
| 12 .. index_offset           | the blobs, back to back, in the order they were added         |
| index_offset .. +index_length| the index (below)                                             |
| last 64 bytes                | the trailer (below)                                           |

The index, covered by the SHA-256 in the trailer:

| field           | size       | what                                                          |
|-----------------|------------|---------------------------------------------------------------|
| tenant length   | u8         | 1-64                                                          |
| tenant          | ASCII      | the one tenant of every body in the pack (a ledger tenant id) |
| then per entry: |            |                                                               |
| offset          | u64        | where the blob begins in the pack                             |
| length          | u32        | the blob's size in bytes, >= 1                                |
| sha256          | 32 bytes   | SHA-256 of the blob's bytes                                   |
| event id length | u8         | 1-128                                                         |
| event id        | ASCII      | a ledger event id, unique in the pack                         |

The trailer, 64 bytes at the very end of the object:

| offset | size | what                                                                     |
|--------|------|--------------------------------------------------------------------------|
| 0      | 32   | SHA-256 of the index bytes                                               |
| 32     | 8    | index offset (u64)                                                       |
| 40     | 8    | index length (u64)                                                       |
| 48     | 4    | entry count (u32), >= 1                                                  |
| 52     | 4    | format version (u32) = 1                                                 |
| 56     | 8    | magic `GEOLPACK`                                                         |

Rules a reader checks: the trailer ends the object with the magic; the version is one it knows;
index offset + index length + 64 = the object's size; the index hashes to the trailer's SHA-256;
the entries tile 12 .. index_offset in order, without gap or overlap, and number the trailer's
count. Version and magic stay the trailer's last 12 bytes in every future version, so a reader
tells "not a pack" and "newer than me" apart before it interprets anything else. The header makes
a pack recognisable from its first bytes and tells a truncated pack (header, no trailer) from a
foreign object (neither).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from ledger.cold_location import ColdLocation, check_pack_id
from ledger.content_id import content_id
from ledger.envelope import check_tenant_id, check_token
from storage.objectstore import ObjectArchived, ObjectNotFound, ObjectStore
from storage.tiering.pack_errors import PackHashMismatch, PackNotFound

MAGIC = b"GEOLPACK"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sI")
"""magic, format version."""
TRAILER = struct.Struct("<32sQQII8s")
"""index sha256, index offset, index length, entry count, format version, magic."""
ENTRY = struct.Struct("<QI32sB")
"""offset, length, blob sha256, event id length; the event id's bytes follow."""
NAME_LENGTH = struct.Struct("<B")
"""The length of the tenant id that opens the index; its bytes follow."""

MAX_BLOB_BYTES = 2**32 - 1
MAX_ENTRIES = 2**32 - 1
PACKS_PREFIX = "tiering/packs"


def pack_key(tenant: str, pack_id: str) -> str:
    """The object key of a tenant's pack, relative to the store's prefix.

    Raises ValueError when `tenant` is not a ledger tenant id or `pack_id` not a pack id.
    """
    check_tenant_id(tenant)
    check_pack_id(pack_id)
    return f"{PACKS_PREFIX}/{tenant}/{pack_id}.pack"


@dataclass(frozen=True)
class PackEntry:
    """One body in a pack: whose it is (tenant, event id) and where its blob is."""

    tenant: str
    event_id: str
    location: ColdLocation


@dataclass(frozen=True)
class BuiltPack:
    """A finished pack: its bytes, their SHA-256 (hex), the id it is stored under, and one entry
    per body in the order they were added."""

    tenant: str
    pack_id: str
    sha256: str
    data: bytes
    entries: tuple[PackEntry, ...]


@dataclass(frozen=True)
class _PendingEntry:
    event_id: str
    offset: int
    length: int
    sha256: str


class PackBuilder:
    """Collects the blobs of one tenant into one pack, in memory.

    The caller decides when a pack is big enough (the tiering policy's 8-64 MiB target) by
    watching `size`, then calls `finish`. Raises ValueError when `tenant` is not a tenant id.
    """

    def __init__(self, tenant: str) -> None:
        check_tenant_id(tenant)
        self.tenant = tenant
        self._blobs = bytearray(HEADER.pack(MAGIC, FORMAT_VERSION))
        self._index = bytearray(_encoded_name(tenant))
        self._pending: list[_PendingEntry] = []
        self._event_ids: set[str] = set()

    @property
    def size(self) -> int:
        """The exact size in bytes of the pack `finish` would return now."""
        return len(self._blobs) + len(self._index) + TRAILER.size

    @property
    def count(self) -> int:
        """How many bodies have been added."""
        return len(self._pending)

    def add(self, tenant: str, event_id: str, blob: bytes) -> None:
        """Append the codec blob of body `(tenant, event_id)`.

        Requires `tenant` to be the builder's tenant, `event_id` a ledger event id not yet in
        this pack and `blob` 1 .. 2**32-1 bytes; raises ValueError, adding nothing, otherwise.
        """
        if tenant != self.tenant:
            raise ValueError(f"a pack holds one tenant: expected {self.tenant!r}, got {tenant!r}")
        check_token(event_id)
        if event_id in self._event_ids:
            raise ValueError(f"event {event_id!r} is already in this pack")
        if not 1 <= len(blob) <= MAX_BLOB_BYTES:
            raise ValueError(f"expected a blob of 1 .. {MAX_BLOB_BYTES} bytes, got {len(blob)}")
        if len(self._pending) == MAX_ENTRIES:
            raise ValueError(f"a pack holds at most {MAX_ENTRIES} bodies")
        digest = hashlib.sha256(blob).digest()
        offset = len(self._blobs)
        self._blobs += blob
        self._index += ENTRY.pack(offset, len(blob), digest, len(event_id))
        self._index += event_id.encode("ascii")
        self._pending.append(_PendingEntry(event_id, offset, len(blob), digest.hex()))
        self._event_ids.add(event_id)

    def finish(self) -> BuiltPack:
        """The pack of every blob added so far, with each body's location in it.

        Raises ValueError when nothing was added: an empty pack locates nothing.
        """
        if not self._pending:
            raise ValueError(f"a pack holds at least one body; none was added for {self.tenant!r}")
        index = bytes(self._index)
        trailer = TRAILER.pack(
            hashlib.sha256(index).digest(),
            len(self._blobs),
            len(index),
            len(self._pending),
            FORMAT_VERSION,
            MAGIC,
        )
        data = bytes(self._blobs) + index + trailer
        sha256 = hashlib.sha256(data).hexdigest()
        pack_id = content_id(data)
        entries = tuple(
            PackEntry(
                self.tenant,
                pending.event_id,
                ColdLocation(
                    pack_id=pack_id,
                    offset=pending.offset,
                    length=pending.length,
                    sha256=pending.sha256,
                ),
            )
            for pending in self._pending
        )
        return BuiltPack(self.tenant, pack_id, sha256, data, entries)


async def write_pack(
    store: ObjectStore, tenant: str, built: BuiltPack, storage_class: str | None = None
) -> bool:
    """Store `built` under its key, in `storage_class` (None: the bucket's default), and prove
    the store holds it: read back, SHA-256 checked. A pack written in an archive class cannot be
    read back until restored: the store's own answer stands in for the read, its size and the
    SHA-256 the put recorded from these bytes (`_check_archived`).

    True when this call created the object, False when it was already there (a retried write of
    the same pack). Only after this returns may the bodies leave the tier they came from.
    Raises ValueError when `built` belongs to another tenant; PackHashMismatch when the object
    under the key is not these bytes (a content address cannot hold other bytes unless the
    stored object is damaged, which a rewrite cannot repair: put_if_absent leaves it); object
    store errors (Unavailable ...) as they come.
    """
    if built.tenant != tenant:
        raise ValueError(f"expected a pack of tenant {tenant!r}, got one of {built.tenant!r}")
    key = pack_key(tenant, built.pack_id)
    created = await store.put_if_absent(key, built.data, storage_class=storage_class)
    # A body leaves its tier only once the next one holds it durably, so trust no answer but
    # the stored bytes themselves.
    try:
        stored = await store.get(key)
    except ObjectArchived:
        await _check_archived(store, key, built)
        return created
    except ObjectNotFound as exc:
        raise PackNotFound(
            store.describe(), key, built.pack_id, "no object under the key just written"
        ) from exc
    got = hashlib.sha256(stored).hexdigest()
    if got != built.sha256:
        raise PackHashMismatch(
            store.describe(), key, built.pack_id, "stored pack", built.sha256, got
        )
    return created


async def _check_archived(store: ObjectStore, key: str, built: BuiltPack) -> None:
    """Raise unless the archived object under `key` has the pack's size and the SHA-256 our put
    recorded from the pack's bytes: the most an archive class lets anyone see without a
    restore (hours on S3 GLACIER)."""
    try:
        info = await store.head(key)
    except ObjectNotFound as exc:
        raise PackNotFound(
            store.describe(), key, built.pack_id, "no object under the key just written"
        ) from exc
    if info.size != len(built.data) or info.sha256 != built.sha256:
        raise PackHashMismatch(
            store.describe(),
            key,
            built.pack_id,
            f"archived pack ({info.size} bytes stored, {len(built.data)} written)",
            built.sha256,
            str(info.sha256),
        )


def _encoded_name(tenant: str) -> bytes:
    name = tenant.encode("ascii")
    return NAME_LENGTH.pack(len(name)) + name
