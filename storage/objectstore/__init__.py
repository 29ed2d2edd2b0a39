"""Object stores: one `ObjectStore` protocol, backends for S3, GCS and the local file system."""

from storage.objectstore.base import ObjectInfo, ObjectStore, TransportPolicy
from storage.objectstore.errors import (
    AccessDenied,
    InvalidKey,
    ObjectNotFound,
    ObjectStoreError,
    PreconditionFailed,
    Unavailable,
)
from storage.objectstore.factory import open_object_store

__all__ = [
    "AccessDenied",
    "InvalidKey",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "PreconditionFailed",
    "TransportPolicy",
    "Unavailable",
    "open_object_store",
]
