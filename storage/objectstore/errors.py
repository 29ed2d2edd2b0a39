"""Errors raised by the object stores. Provider exceptions (botocore, google.*, OSError) stop at
the backend that met them and become one of these, so callers handle one vocabulary for all
backends.
"""

from __future__ import annotations


class ObjectStoreError(Exception):
    """Base of every error `storage.objectstore` raises.

    `store` is the store's URL (`s3://bucket/prefix`), `key` the key relative to it (None for
    store-wide operations such as listing), `operation` the step that failed (`get`, `put` ...).
    """

    def __init__(self, store: str, key: str | None, operation: str, detail: str) -> None:
        self.store = store
        self.key = key
        self.operation = operation
        self.detail = detail
        where = f"{store} key {key!r}" if key is not None else store
        super().__init__(f"{operation} {where}: {detail}")


class ObjectNotFound(ObjectStoreError):
    """The key (or the bucket holding it) does not exist."""


class PreconditionFailed(ObjectStoreError):
    """A conditional write found another version than the one it was conditioned on."""


class AccessDenied(ObjectStoreError):
    """The credentials in use may not perform the operation, or no credentials were found."""


class Unavailable(ObjectStoreError):
    """The store could not be reached or answered with a server-side failure; retrying later may
    succeed."""


class InvalidKey(ObjectStoreError, ValueError):
    """A key (or listing prefix) breaks the rules every backend shares; nothing was sent."""


class ObjectArchived(ObjectStoreError):
    """The object is in an archive class (S3 GLACIER / DEEP_ARCHIVE) and has no restored copy:
    it exists, but nothing reads it until `restore` has made one (`restore_status`)."""


class RestoreNotSupported(ObjectStoreError):
    """The backend keeps no archived objects (GCS ARCHIVE and the local FS read every object
    directly), so there is nothing to restore and no restore to ask about."""

    def __init__(self, store: str, key: str | None, operation: str) -> None:
        super().__init__(
            store,
            key,
            operation,
            "expected a store with archive classes (S3 GLACIER / DEEP_ARCHIVE), got one that "
            "reads every object directly: nothing to restore",
        )
