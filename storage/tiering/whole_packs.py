"""Cold blobs for a reader that walks many bodies (the dedup dump): each pack is fetched whole,
once, checked against its content id, and dropped as soon as the last body that needs it was
read, instead of one range GET per body.

The caller states up front how many bodies it will read from each pack, so memory holds only the
packs still needed: in the worst case (every pack's bodies interleaved in the walk's key order)
all of them, in the usual case of packs written in key order, one or two.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger.cold_location import ColdLocation
from ledger.content_id import content_id
from storage.objectstore import ObjectNotFound, ObjectStore
from storage.tiering.pack_errors import PackHashMismatch, PackNotFound
from storage.tiering.pack_reader import check_blob
from storage.tiering.packs import pack_key


class WholePacks:
    """The blobs of `store`'s packs, each pack read once. `needed` maps (tenant, pack id) to how
    many bodies will be read from it; a pack not named there is read and dropped at once."""

    def __init__(self, store: ObjectStore, needed: Mapping[tuple[str, str], int]) -> None:
        self._store = store
        self._needed = dict(needed)
        self._packs: dict[tuple[str, str], bytes] = {}

    async def blob(self, tenant: str, location: ColdLocation) -> bytes:
        """The blob at `location` in `tenant`'s pack, SHA-256 checked (pack_reader.check_blob).

        Raises PackNotFound, PackHashMismatch (the pack's bytes are not its id's), PackTruncated
        or PackHashMismatch (the blob), and object store errors as they come.
        """
        name = (tenant, location.pack_id)
        data = self._packs.get(name)
        if data is None:
            data = await self._fetch(tenant, location.pack_id)
            self._packs[name] = data
        left = self._needed.get(name, 1) - 1
        self._needed[name] = left
        if left <= 0:
            del self._packs[name]
        blob = data[location.offset : location.end]
        check_blob(self._store.describe(), tenant, location, blob)
        return blob

    async def _fetch(self, tenant: str, pack_id: str) -> bytes:
        key = pack_key(tenant, pack_id)
        try:
            data = await self._store.get(key)
        except ObjectNotFound as exc:
            raise PackNotFound(
                self._store.describe(), key, pack_id, "no object under the pack's key"
            ) from exc
        got = content_id(data)
        if got != pack_id:
            raise PackHashMismatch(
                self._store.describe(), key, pack_id, "whole pack (content id)", pack_id, got
            )
        return data
