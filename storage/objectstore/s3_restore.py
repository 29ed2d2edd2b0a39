"""S3 archive classes: a GET of a GLACIER / DEEP_ARCHIVE object without a restored copy answers
InvalidObjectState (ObjectArchived, storage/objectstore/s3_errors.py); RestoreObject asks for a
copy and HeadObject's `Restore` (`x-amz-restore`) header follows it: `ongoing-request="true"`
while restoring, `ongoing-request="false", expiry-date=...` once the copy reads.

moto simulates both. Its state manager's `s3::keyrestore` transition is "immediate" by default:
the copy is ready as soon as it is asked for (a test wanting a slower restore sets another
transition through moto's `/moto-api/state-manager/set-transition`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ledger.tier_policy import RESTORE_CLASSES
from storage.objectstore.base import RestoreStatus
from storage.objectstore.s3_errors import s3_error_code

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

# RestoreObject on a copy already being made: the request stands.
_IN_PROGRESS = "RestoreAlreadyInProgress"
# RestoreObject on an object in no archive class: it reads directly, nothing to restore.
_NOT_ARCHIVED = "InvalidObjectState"


def request_restore(client: S3Client, bucket: str, key: str, days: int) -> None:
    """Ask for a copy of `key` readable `days` days (blocking); a copy already asked for, or an
    object that reads directly, is no error."""
    if days < 1:
        raise ValueError(f"expected a restored copy kept 1 or more days, got {days}")
    try:
        client.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": days})
    except ClientError as exc:
        if s3_error_code(exc) not in (_IN_PROGRESS, _NOT_ARCHIVED):
            raise


def restore_status_of(head: Mapping[str, Any]) -> RestoreStatus:
    """Where the object of a HeadObject answer stands between archived and readable."""
    if head.get("StorageClass", "STANDARD") not in RESTORE_CLASSES["s3"]:
        return RestoreStatus.READABLE
    restore = head.get("Restore")
    if restore is None:
        return RestoreStatus.ARCHIVED
    if 'ongoing-request="true"' in restore:
        return RestoreStatus.RESTORING
    return RestoreStatus.RESTORED
