"""What an S3 failure means for a caller: boto3's and botocore's exceptions, mapped to the store's
own error classes (storage/objectstore/errors.py) by error code, then by HTTP status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)

from storage.objectstore.errors import (
    AccessDenied,
    ObjectArchived,
    ObjectNotFound,
    ObjectStoreError,
    PreconditionFailed,
    Unavailable,
)

T = TypeVar("T")

_NOT_FOUND = {"NoSuchKey", "NoSuchBucket", "NotFound", "404"}
_DENIED = {
    "AccessDenied", "Forbidden", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch",
    "AllAccessDisabled", "ExpiredToken", "InvalidToken", "AccountProblem",
}  # fmt: skip
_UNAVAILABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}


def translate_s3_error(
    store: str, operation: str, key: str | None, exc: Exception
) -> ObjectStoreError:
    """The store error for a failed boto3 call of `operation` on `key` in `store` (its URL)."""
    # The managed upload hides the ClientError it failed with behind a message-only error.
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__
    if isinstance(exc, ClientError):
        code, status = s3_error_code(exc), s3_http_status(exc)
        detail = f"S3 answered {status} {code}: {exc}"
        if code in _NOT_FOUND or status == 404:
            return ObjectNotFound(store, key, operation, f"expected an object, got {detail}")
        if code == "InvalidObjectState":
            return ObjectArchived(
                store, key, operation, f"expected a readable object, got {detail}"
            )
        if code == "PreconditionFailed" or status == 412:
            return PreconditionFailed(store, key, operation, detail)
        if code in _DENIED or status == 403:
            return AccessDenied(store, key, operation, detail)
        if code in _UNAVAILABLE or status >= 500:
            return Unavailable(store, key, operation, detail)
        return ObjectStoreError(store, key, operation, detail)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return AccessDenied(store, key, operation, f"boto3's credential chain: {exc}")
    if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError):
        return Unavailable(store, key, operation, f"cannot reach S3: {exc}")
    return ObjectStoreError(store, key, operation, str(exc))


def s3_error_code(exc: ClientError) -> str:
    """The S3 error code of a ClientError (`NoSuchKey`, `InvalidRange` ...), or ''."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def s3_http_status(exc: ClientError) -> int:
    """The HTTP status S3 answered a ClientError with, or 0 when there was none."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


async def run_s3_call(
    store: str, operation: str, key: str | None, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Run a blocking boto3 call in a thread; provider errors become the store's errors."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
        raise translate_s3_error(store, operation, key, exc) from exc
