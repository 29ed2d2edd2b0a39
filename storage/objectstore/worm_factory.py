"""Opening the write-once store a configuration names, by its URL's scheme, and preparing or
checking its bucket."""

from __future__ import annotations

from ledger.config import ObjectStoreConfig
from storage.objectstore.base import TransportPolicy
from storage.objectstore.worm import WormStore


def open_worm_store(
    config: ObjectStoreConfig, retention_days: int, transport: TransportPolicy | None = None
) -> WormStore:
    """The write-once backend for `config.url`: `s3://` Object Lock, `gs://` retention policy,
    `file://` read-only files (not WORM). Sends nothing over the network."""
    # Imported when first needed, as in storage/objectstore/factory.py: the clients are slow to
    # import and a process uses one provider.
    if config.scheme == "s3":
        from storage.objectstore.worm_s3 import S3WormStore

        return S3WormStore(
            config.bucket,
            config.prefix,
            retention_days=retention_days,
            endpoint_url=config.endpoint_url,
            region_name=config.region_name,
            sse=config.sse,
            kms_key_id=config.kms_key_id,
            transport=transport,
        )
    if config.scheme == "gs":
        from storage.objectstore.worm_gcs import GcsWormStore

        return GcsWormStore(
            config.bucket,
            config.prefix,
            retention_days=retention_days,
            endpoint_url=config.endpoint_url,
            kms_key_name=config.kms_key_name,
            transport=transport,
        )
    if config.scheme == "file":
        from storage.objectstore.worm_local import LocalWormStore

        return LocalWormStore(config.bucket, retention_days=retention_days)
    raise ValueError(f"expected an s3://, gs:// or file:// url, got {config.url!r}")


async def ensure_worm_bucket(config: ObjectStoreConfig, retention_days: int) -> None:
    """Create the bucket of `config` as write-once storage unless it exists (an existing one is
    left as it is). The embedded stack calls it; on a real cloud the operator creates the bucket
    (docs/audit-worm.md) and `check_worm_bucket` verifies it."""
    await open_worm_store(config, retention_days).ensure_bucket()


async def check_worm_bucket(config: ObjectStoreConfig, retention_days: int) -> list[str]:
    """What keeps the bucket of `config` from refusing replacement and deletion of its objects
    for `retention_days`; empty when nothing does."""
    return await open_worm_store(config, retention_days).check_bucket()
