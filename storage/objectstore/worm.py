"""Write-once (WORM) object storage: the interface the audit pipeline writes sealed segments'
leaves to, and the receipt a write returns.

A WORM store refuses to replace or delete an object before its retention date, at the service:
S3 Object Lock in COMPLIANCE mode (storage/objectstore/worm_s3.py), a GCS bucket retention
policy (worm_gcs.py). The local file system (worm_local.py) only refuses through this code and
its file modes, so it is not WORM; it serves tests and single-machine trials.

Semantics every backend shares:
- `write_once(key, data)` creates `key`. When an object is there already, identical bytes are
  success (a retried write returns the stored object's receipt) and other bytes raise
  WormConflict, leaving the stored object as it was.
- `read(key, version)` reads the version a receipt named. Readers always name it: on S3 a delete
  without a version id only hides the object behind a delete marker, and a later write could add
  a second version; the locked version itself stays readable until its retention date.
- `check_bucket()` lists what keeps the bucket from being write-once (empty: nothing).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from storage.objectstore.errors import ObjectStoreError


@dataclass(frozen=True)
class WormReceipt:
    """What a write-once write left: the key, the provider's version of it (S3 version id, GCS
    generation, the SHA-256 on the local FS), the SHA-256 (hex) of its bytes, and the date before
    which the service refuses to replace or delete it."""

    key: str
    version: str
    sha256: str
    retain_until: datetime


class WormConflict(ObjectStoreError):
    """Another object with other bytes is stored under the key: a write-once store never
    replaces it. The stored object is unchanged."""


@runtime_checkable
class WormStore(Protocol):
    """A write-once store rooted at a bucket and prefix; safe to call concurrently."""

    def describe(self) -> str:
        """The store's URL, e.g. `s3://bucket/prefix`; errors name the store by it."""
        ...

    async def write_once(self, key: str, data: bytes) -> WormReceipt:
        """Create `key` with `data`, retained `retention_days` from now. Identical bytes already
        there: their receipt. Other bytes there: WormConflict."""
        ...

    async def read(self, key: str, version: str) -> bytes:
        """The bytes of `version` of `key` (from a WormReceipt). Raises ObjectNotFound."""
        ...

    async def ensure_bucket(self) -> None:
        """Create the bucket as write-once storage if it does not exist (the embedded stack;
        on a real cloud the operator creates it, see docs/audit-worm.md)."""
        ...

    async def check_bucket(self) -> list[str]:
        """What keeps the bucket from refusing replacement and deletion for `retention_days`;
        empty when nothing does."""
        ...


def retain_until(retention_days: int, now: datetime | None = None) -> datetime:
    """The retention date of an object written `now`: whole seconds (S3 and GCS keep no more),
    rounded up so the object is never retained less than `retention_days`."""
    moment = (now or datetime.now(UTC)) + timedelta(days=retention_days)
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


def check_retention_days(retention_days: int) -> int:
    """Raise ValueError unless `retention_days` is at least one day."""
    if retention_days < 1:
        raise ValueError(f"expected retention_days >= 1, got {retention_days}")
    return retention_days


def check_same_bytes(store: str, key: str, sha256: str, stored: bytes, version: str) -> None:
    """Raise WormConflict unless `stored` (`version` of `key`, found where a write of bytes with
    digest `sha256` was refused) holds the same bytes. The bytes, not a recorded digest: an
    object written by anyone else carries none of ours."""
    stored_sha256 = hashlib.sha256(stored).hexdigest()
    if stored_sha256 != sha256:
        raise WormConflict(
            store,
            key,
            "write_once",
            f"expected no object or one with sha256 {sha256}, "
            f"got version {version} with sha256 {stored_sha256}",
        )
