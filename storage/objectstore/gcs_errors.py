"""What a GCS failure means for a caller: google-cloud-storage's, google-auth's and requests'
exceptions, mapped to the store's own error classes (storage/objectstore/errors.py) by HTTP
status, then by kind. Shared by the object backend and the bucket lifecycle backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.storage import exceptions as storage_exceptions

from storage.objectstore.errors import (
    AccessDenied,
    ObjectNotFound,
    ObjectStoreError,
    PreconditionFailed,
    Unavailable,
)

T = TypeVar("T")

GCS_ERRORS = (
    api_exceptions.GoogleAPIError,
    auth_exceptions.GoogleAuthError,
    storage_exceptions.InvalidResponse,
    storage_exceptions.DataCorruption,
    requests.RequestException,
)
"""Every exception a client call may raise for a failure of GCS or of the way to it."""


def translate_gcs_error(
    store: str, operation: str, key: str | None, exc: Exception
) -> ObjectStoreError:
    """The store error for a failed client call of `operation` on `key` in `store` (its URL)."""
    # A retry that ran out of time carries the last real failure as its cause.
    if isinstance(exc, api_exceptions.RetryError) and isinstance(exc.cause, Exception):
        exc = exc.cause
    detail = f"GCS: {type(exc).__name__}: {exc}"
    status = _http_status(exc)
    if status == 404:
        return ObjectNotFound(store, key, operation, f"expected an object, got {detail}")
    if status == 412:
        return PreconditionFailed(store, key, operation, detail)
    if status in (401, 403) or isinstance(
        exc, auth_exceptions.DefaultCredentialsError | auth_exceptions.RefreshError
    ):
        return AccessDenied(store, key, operation, detail)
    if (status is not None and (status >= 500 or status == 429)) or isinstance(
        exc,
        api_exceptions.RetryError
        | auth_exceptions.TransportError
        | requests.ConnectionError
        | requests.Timeout,
    ):
        return Unavailable(store, key, operation, f"cannot reach GCS: {detail}")
    return ObjectStoreError(store, key, operation, detail)


def _http_status(exc: Exception) -> int | None:
    """The HTTP status behind an API error or a media-layer (upload/download) error."""
    if isinstance(exc, api_exceptions.GoogleAPICallError) and exc.code is not None:
        return int(exc.code)
    if isinstance(exc, storage_exceptions.InvalidResponse):
        status = getattr(exc.response, "status_code", None)
        return int(status) if status is not None else None
    return None


async def run_gcs_call(
    store: str, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run a blocking client call in a thread; provider errors become the store's errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except GCS_ERRORS as exc:
        raise translate_gcs_error(store, operation, key, exc) from exc
