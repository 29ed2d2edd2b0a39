"""The storage class a tenant's cold packs are written in on a region's object store: the policy's
cold_class_s3 or cold_class_gcs, by the store's kind (ledger/tier_policy.py says which classes
need a restore before a read). A store without classes (the local FS) gets none."""

from __future__ import annotations

from urllib.parse import urlsplit

from ledger.tier_policy import TierPolicy, backend_kind
from storage.objectstore import ObjectStore


def pack_storage_class(policy: TierPolicy, store: ObjectStore) -> str | None:
    """The class `policy` writes cold packs in on `store`; None where the store has no classes."""
    kind = backend_kind(urlsplit(store.describe()).scheme)
    return None if kind is None else policy.cold_class(kind)
