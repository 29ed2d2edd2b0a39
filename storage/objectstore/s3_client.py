"""The boto3 client of an `s3://` store: timeouts and retries from a TransportPolicy, path-style
addressing on emulators and S3-compatibles, credentials from boto3's default chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from storage.objectstore.base import TransportPolicy

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


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
