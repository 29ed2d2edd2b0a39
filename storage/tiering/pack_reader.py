"""Reading cold packs back, trusting nothing unchecked: one body by one range GET whose bytes must
hash to the location's SHA-256 before anyone decodes them (I5), and a pack's index, from its
trailer, to rebuild the locations of every body in it. The format is documented in
`storage.tiering.packs`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ledger.cold_location import ColdLocation
from ledger.envelope import check_tenant_id, check_token
from storage.objectstore import ObjectNotFound, ObjectStore
from storage.tiering.pack_errors import (
    PackCorrupt,
    PackHashMismatch,
    PackMagicMismatch,
    PackMalformed,
    PackNotFound,
    PackTruncated,
    PackVersionUnsupported,
)
from storage.tiering.packs import (
    ENTRY,
    FORMAT_VERSION,
    HEADER,
    MAGIC,
    NAME_LENGTH,
    TRAILER,
    PackEntry,
    pack_key,
)

_Check = Callable[[str], None]
"""A ledger check of an id (check_tenant_id, check_token): raises ValueError when invalid."""


class _Pack(NamedTuple):
    """The pack being read, as every PackError names it: store URL, key, pack id."""

    store: str
    key: str
    pack_id: str


@dataclass(frozen=True)
class _Trailer:
    index_sha256: bytes
    index_offset: int
    index_length: int
    entry_count: int


async def read_blob(store: ObjectStore, tenant: str, location: ColdLocation) -> bytes:
    """The blob at `location` in `tenant`'s pack, by one range GET, SHA-256 checked.

    Raises ValueError for a tenant that is not a tenant id; PackNotFound when the pack is
    missing; PackTruncated when the object ends before the blob does; PackHashMismatch when
    the bytes are not the blob the location names; object store errors as they come.
    """
    pack = _Pack(store.describe(), pack_key(tenant, location.pack_id), location.pack_id)
    blob = await _get_range(store, pack, location.offset, location.end)
    check_blob(pack.store, tenant, location, blob)
    return blob


def check_blob(store: str, tenant: str, location: ColdLocation, blob: bytes) -> None:
    """Raise PackTruncated or PackHashMismatch unless `blob`, read from `tenant`'s pack in the
    store whose URL is `store`, is the blob `location` names (I5): `read_blob` checks its range
    GET with it, a reader that fetched the whole pack checks each slice of it."""
    pack = _Pack(store, pack_key(tenant, location.pack_id), location.pack_id)
    part = f"blob at {location.offset} length {location.length}"
    if len(blob) != location.length:
        raise PackTruncated(*pack, f"{part}: the object ends after {len(blob)} of its bytes")
    got = hashlib.sha256(blob).hexdigest()
    if got != location.sha256:
        raise PackHashMismatch(*pack, part, location.sha256, got)


async def read_index(store: ObjectStore, tenant: str, pack_id: str) -> tuple[PackEntry, ...]:
    """Every body in `tenant`'s pack `pack_id`, in pack order, from its trailer and index.

    Reads the object's size, its trailer and its index (three requests); blobs are not read,
    so their hashes are checked when each is read. Raises ValueError for an invalid tenant or
    pack id; PackNotFound, PackMagicMismatch (not a pack), PackTruncated (a pack's start
    without its end), PackVersionUnsupported, PackHashMismatch (index) or PackMalformed
    (trailer or index inconsistent, another tenant's pack); object store errors as they come.
    """
    pack = _Pack(store.describe(), pack_key(tenant, pack_id), pack_id)
    size = await _size(store, pack)
    tail = await _get_range(store, pack, max(0, size - TRAILER.size), size)
    if len(tail) < TRAILER.size or tail[-len(MAGIC) :] != MAGIC:
        raise await _missing_trailer(store, pack, size)
    trailer = _checked_trailer(pack, size, tail)
    end = trailer.index_offset + trailer.index_length
    index = await _get_range(store, pack, trailer.index_offset, end)
    return _parse_index(pack, tenant, trailer, index)


def _checked_trailer(pack: _Pack, size: int, tail: bytes) -> _Trailer:
    index_sha256, index_offset, index_length, entry_count, version, _ = TRAILER.unpack(tail)
    if version != FORMAT_VERSION:
        raise PackVersionUnsupported(*pack, version, FORMAT_VERSION)
    # The index lies between the blobs and the trailer, so the trailer's numbers must add up to
    # the object's size: any damage to them shows here, before they steer a read.
    if index_offset < HEADER.size or index_offset + index_length + TRAILER.size != size:
        raise PackMalformed(
            *pack,
            f"trailer: expected an index from offset >= {HEADER.size} ending at "
            f"{size - TRAILER.size} (the trailer's start), got offset {index_offset} length "
            f"{index_length}",
        )
    if entry_count == 0:
        raise PackMalformed(*pack, "trailer: expected at least one entry, got 0")
    return _Trailer(index_sha256, index_offset, index_length, entry_count)


def _parse_index(
    pack: _Pack, tenant: str, trailer: _Trailer, index: bytes
) -> tuple[PackEntry, ...]:
    if len(index) != trailer.index_length:
        raise PackTruncated(
            *pack, f"index: expected {trailer.index_length} bytes, got {len(index)}"
        )
    got = hashlib.sha256(index).digest()
    if got != trailer.index_sha256:
        raise PackHashMismatch(*pack, "index", trailer.index_sha256.hex(), got.hex())
    reader = _IndexReader(pack, index)
    index_tenant = reader.name("tenant", check_tenant_id)
    if index_tenant != tenant:
        raise PackMalformed(*pack, f"index: expected tenant {tenant!r}, got {index_tenant!r}")
    entries: list[PackEntry] = []
    seen: set[str] = set()
    next_offset = HEADER.size
    while not reader.done:
        number = len(entries)
        offset, length, sha256, name_length = reader.entry(f"entry {number}")
        event_id = reader.text(name_length, f"entry {number} event id", check_token)
        # Blobs lie back to back from the header to the index: a gap or an overlap is damage.
        if offset != next_offset or length == 0:
            raise PackMalformed(
                *pack,
                f"index entry {number}: expected a blob at offset {next_offset} of >= 1 bytes, "
                f"got offset {offset} length {length}",
            )
        if event_id in seen:
            raise PackMalformed(*pack, f"index entry {number}: event {event_id!r} twice")
        seen.add(event_id)
        next_offset += length
        location = ColdLocation(
            pack_id=pack.pack_id, offset=offset, length=length, sha256=sha256.hex()
        )
        entries.append(PackEntry(tenant, event_id, location))
    if next_offset != trailer.index_offset or len(entries) != trailer.entry_count:
        raise PackMalformed(
            *pack,
            f"index: expected {trailer.entry_count} entries whose blobs end at "
            f"{trailer.index_offset}, got {len(entries)} ending at {next_offset}",
        )
    return tuple(entries)


class _IndexReader:
    """A cursor over the index bytes whose every read says which field was cut short."""

    def __init__(self, pack: _Pack, data: bytes) -> None:
        self._pack = pack
        self._data = data
        self._position = 0

    @property
    def done(self) -> bool:
        return self._position == len(self._data)

    def entry(self, field: str) -> tuple[int, int, bytes, int]:
        offset, length, sha256, name_length = ENTRY.unpack(self._take(ENTRY.size, field))
        return offset, length, sha256, name_length

    def name(self, field: str, check: _Check) -> str:
        (length,) = NAME_LENGTH.unpack(self._take(NAME_LENGTH.size, f"{field} length"))
        return self.text(length, field, check)

    def text(self, length: int, field: str, check: _Check) -> str:
        raw = self._take(length, field)
        try:
            value = raw.decode("ascii")
            check(value)
        except ValueError as exc:  # UnicodeDecodeError is one too
            raise PackMalformed(*self._pack, f"index {field}: {exc}") from None
        return value

    def _take(self, count: int, field: str) -> bytes:
        end = self._position + count
        if end > len(self._data):
            raise PackMalformed(
                *self._pack,
                f"index {field}: expected {count} bytes at index offset {self._position}, "
                f"got {len(self._data) - self._position}",
            )
        raw = self._data[self._position : end]
        self._position = end
        return raw


async def _size(store: ObjectStore, pack: _Pack) -> int:
    try:
        return (await store.head(pack.key)).size
    except ObjectNotFound as exc:
        raise PackNotFound(*pack, "no object under the pack's key") from exc


async def _get_range(store: ObjectStore, pack: _Pack, start: int, end: int) -> bytes:
    try:
        return await store.get_range(pack.key, start, end)
    except ObjectNotFound as exc:
        raise PackNotFound(*pack, "no object under the pack's key") from exc


async def _missing_trailer(store: ObjectStore, pack: _Pack, size: int) -> PackCorrupt:
    """The error for an object that does not end with a trailer: a pack's header without its
    trailer is a truncated pack, anything else is not a pack at all."""
    head = await _get_range(store, pack, 0, HEADER.size)
    if head.startswith(MAGIC):
        return PackTruncated(
            *pack,
            f"the object ({size} bytes) starts as a pack but does not end with the trailer "
            f"magic {MAGIC!r}: truncated, or its trailer is damaged",
        )
    return PackMagicMismatch(
        *pack, f"expected the magic {MAGIC!r} at the start and end, got {head[: len(MAGIC)]!r}"
    )
