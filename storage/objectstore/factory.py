"""Opening the object store a configuration names, by its URL's scheme."""

from __future__ import annotations

from ledger.config import ObjectStoreConfig
from storage.objectstore.base import ObjectStore, TransportPolicy


def open_object_store(
    config: ObjectStoreConfig, transport: TransportPolicy | None = None
) -> ObjectStore:
    """The backend for `config.url`: `s3://` S3, `gs://` GCS, `file://` local FS.

    Sends nothing over the network; a wrong bucket or credentials show on the first call.
    `transport` overrides timeouts and retries of the network backends.
    """
    # Each backend is imported when first needed: boto3 and google-cloud-storage take a while to
    # import, and a process using one provider has no use for the other.
    if config.scheme == "s3":
        from storage.objectstore.s3 import S3ObjectStore

        return S3ObjectStore(
            config.bucket,
            config.prefix,
            endpoint_url=config.endpoint_url,
            region_name=config.region_name,
            sse=config.sse,
            kms_key_id=config.kms_key_id,
            transport=transport,
        )
    if config.scheme == "gs":
        from storage.objectstore.gcs import GcsObjectStore

        return GcsObjectStore(
            config.bucket,
            config.prefix,
            endpoint_url=config.endpoint_url,
            kms_key_name=config.kms_key_name,
            transport=transport,
        )
    if config.scheme == "file":
        from storage.objectstore.local import LocalObjectStore

        return LocalObjectStore(config.bucket)
    # ObjectStoreConfig validates the scheme; this guards a model that grew one without us.
    raise ValueError(f"expected an s3://, gs:// or file:// url, got {config.url!r}")
