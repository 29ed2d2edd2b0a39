"""Object stores: one `ObjectStore` protocol, backends for S3, GCS and the local file system."""

from storage.objectstore.base import ObjectInfo, ObjectStore, RestoreStatus, TransportPolicy
from storage.objectstore.errors import (
    AccessDenied,
    InvalidKey,
    ObjectArchived,
    ObjectNotFound,
    ObjectStoreError,
    PreconditionFailed,
    RestoreNotSupported,
    Unavailable,
)
from storage.objectstore.factory import open_object_store

__all__ = [
    "AccessDenied",
    "InvalidKey",
    "ObjectArchived",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "PreconditionFailed",
    "RestoreNotSupported",
    "RestoreStatus",
    "TransportPolicy",
    "Unavailable",
    "open_object_store",
]
