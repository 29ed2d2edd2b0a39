"""The boto3 client of an `s3://` store: timeouts and retries from a TransportPolicy, path-style
addressing on emulators and S3-compatibles, credentials from boto3's default chain."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.objectstore.base import TransportPolicy
from storage.objectstore.s3_errors import s3_error_code

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# S3 answers 409 when another conditional write on the key is in flight: it asks for a retry.
_CONFLICT = "ConditionalRequestConflict"
_CONFLICT_ATTEMPTS = 5


def open_s3_client(
    endpoint_url: str | None,
    region_name: str,
    transport: TransportPolicy,
    max_pool_connections: int = 10,
) -> S3Client:
    """A thread-safe client; sends nothing yet."""
    config = Config(
        region_name=region_name,
        connect_timeout=transport.connect_timeout_s,
        read_timeout=transport.read_timeout_s,
        retries={"mode": "standard", "max_attempts": transport.max_attempts},
        max_pool_connections=max_pool_connections,
        # Emulators and S3-compatibles answer on one host name: bucket in the path.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    # A session per client: sessions are not thread-safe, the client made from one is.
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def put_object(client: S3Client, arguments: dict[str, Any]) -> Mapping[str, Any]:
    """`client.put_object(**arguments)`, retried (blocking, with backoff) while S3 answers that
    another conditional write on the key is in flight."""
    for attempt in range(_CONFLICT_ATTEMPTS):
        try:
            return client.put_object(**arguments)
        except ClientError as exc:
            if s3_error_code(exc) != _CONFLICT or attempt == _CONFLICT_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable: the loop returns or raises")


def encryption_arguments(sse: str, kms_key_id: str | None) -> dict[str, str]:
    """The server-side encryption arguments of every write: SSE-S3 (`AES256`) or SSE-KMS
    (`aws:kms` with `kms_key_id`). Raises ValueError for anything else."""
    if sse not in ("AES256", "aws:kms"):
        raise ValueError(f"expected sse 'AES256' or 'aws:kms', got {sse!r}")
    if sse == "aws:kms" and not kms_key_id:
        raise ValueError("sse 'aws:kms' needs kms_key_id, got none")
    arguments = {"ServerSideEncryption": sse}
    if sse == "aws:kms" and kms_key_id:
        arguments["SSEKMSKeyId"] = kms_key_id
    return arguments
