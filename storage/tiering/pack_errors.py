"""Errors of cold packs: a pack that is missing, not a pack, of an unknown version, or whose bytes
do not hash or fit together as its trailer and index say. Object-store errors other than a missing
object (Unavailable, AccessDenied ...) pass through unchanged: they say nothing about the pack.

Bad arguments (a tenant id or event id the ledger would refuse, a second tenant in one builder)
are ValueErrors, raised before anything is read or written.
"""

from __future__ import annotations

from storage.tiering.errors import TieringError


class PackError(TieringError):
    """Base of every error about a stored pack.

    `store` is the store's URL, `key` the pack's object key in it, `pack_id` the pack's id and
    `detail` what was expected and what was got.
    """

    def __init__(self, store: str, key: str, pack_id: str, detail: str) -> None:
        self.store = store
        self.key = key
        self.pack_id = pack_id
        self.detail = detail
        super().__init__(f"pack {pack_id} ({store} key {key!r}): {detail}")


class PackNotFound(PackError):
    """No object exists under the pack's key."""


class PackVersionUnsupported(PackError):
    """The pack is of a format version this code cannot read (written by a newer release)."""

    def __init__(self, store: str, key: str, pack_id: str, version: int, supported: int) -> None:
        self.version = version
        self.supported = supported
        super().__init__(
            store, key, pack_id, f"expected pack format version {supported}, got {version}"
        )


class PackCorrupt(PackError):
    """The stored bytes are not the pack they should be; reading them again will not help."""


class PackTruncated(PackCorrupt):
    """The object is shorter than the pack or the location describes: a short read."""


class PackMagicMismatch(PackCorrupt):
    """The object does not begin (and end) with the pack magic: it is not a pack."""


class PackHashMismatch(PackCorrupt):
    """Bytes of the pack (one blob, the index, or the whole stored pack) do not hash to the
    SHA-256 recorded for them. `part` names which bytes; `expected`/`got` are hex digests."""

    def __init__(
        self, store: str, key: str, pack_id: str, part: str, expected: str, got: str
    ) -> None:
        self.part = part
        self.expected = expected
        self.got = got
        super().__init__(store, key, pack_id, f"{part}: expected sha256 {expected}, got {got}")


class PackMalformed(PackCorrupt):
    """The trailer or the index is inconsistent: offsets that do not tile the pack, counts that
    disagree, an entry that is cut short, another tenant, a duplicate or invalid event id."""
