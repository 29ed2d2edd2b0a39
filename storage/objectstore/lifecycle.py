"""Bucket lifecycle rules: one model and one interface for every backend that has them (S3 in
lifecycle_s3.py, GCS in lifecycle_gcs.py; the local FS has none).

A `LifecycleRule` is one action on the objects under one key prefix once they are `age_days`
old (counted from each object's creation): move them to another storage class, or delete them.
It is the part of a provider's rule that we write and compare. A bucket's rules are read as
`BucketRule`s, each carrying the provider's own representation (`raw`), so a rule is written back
exactly as it was read, whether or not we understand it: a rule that does anything the model
cannot say (other filters, several prefixes, versions, dates, a disabled status) has no
`rules` and is only ever kept.

Provider errors become storage/objectstore/errors.py classes, as for objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ledger.config import ObjectStoreConfig
from storage.objectstore.base import TransportPolicy

LifecycleAction = Literal["transition", "delete"]


@dataclass(frozen=True, order=True)
class LifecycleRule:
    """Objects under `prefix` (a full key prefix in the bucket, ending with `/`) are moved to
    `storage_class` (`transition`) or deleted (`delete`) once they are `age_days` old.

    Requires age_days >= 0, and a storage class exactly for transitions.
    """

    prefix: str
    action: LifecycleAction
    age_days: int
    storage_class: str | None = None

    def __post_init__(self) -> None:
        if self.age_days < 0:
            raise ValueError(f"expected age_days >= 0, got {self.age_days}")
        if (self.action == "transition") != (self.storage_class is not None):
            raise ValueError(
                f"expected a storage class exactly for transitions, got {self.action} "
                f"with storage_class={self.storage_class!r}"
            )

    @property
    def slot(self) -> tuple[str, LifecycleAction]:
        """What a rule is about (its prefix and kind of action): two rules of one slot are two
        versions of the same rule."""
        return (self.prefix, self.action)

    def describe(self) -> str:
        """`transition to GLACIER after 0 d` / `delete after 365 d`."""
        if self.action == "transition":
            return f"transition to {self.storage_class} after {self.age_days} d"
        return f"delete after {self.age_days} d"


@dataclass(frozen=True)
class BucketRule:
    """One rule as the bucket holds it: `raw` is the provider's representation (written back
    unchanged when the rule is kept), `prefix` its single key prefix (None when it has another
    filter or none), `rules` what it does in our model (empty when the model cannot say it),
    `summary` a one-line description for people."""

    raw: Mapping[str, Any]
    prefix: str | None
    rules: tuple[LifecycleRule, ...]
    summary: str


class BucketLifecycle(Protocol):
    """The lifecycle configuration of one bucket."""

    def describe(self) -> str:
        """The bucket's URL, `s3://bucket` or `gs://bucket`."""
        ...

    async def read_rules(self) -> list[BucketRule]:
        """Every rule the bucket has, in the bucket's order; empty when it has none."""
        ...

    async def write_rules(self, keep: Sequence[BucketRule], rules: Sequence[LifecycleRule]) -> None:
        """Replace the bucket's whole configuration with the `keep` rules as they were read,
        followed by `rules`; with neither, the bucket has no lifecycle rules afterwards."""
        ...


def open_bucket_lifecycle(
    config: ObjectStoreConfig, transport: TransportPolicy | None = None
) -> BucketLifecycle | None:
    """The lifecycle of the bucket `config.url` names; None for stores without lifecycle rules
    (`file://`). Sends nothing yet."""
    # Imported when first needed, as in factory.py: each provider library is slow to import.
    if config.scheme == "s3":
        from storage.objectstore.lifecycle_s3 import S3BucketLifecycle

        return S3BucketLifecycle(
            config.bucket,
            endpoint_url=config.endpoint_url,
            region_name=config.region_name,
            transport=transport or TransportPolicy(),
        )
    if config.scheme == "gs":
        from storage.objectstore.lifecycle_gcs import GcsBucketLifecycle

        return GcsBucketLifecycle(
            config.bucket,
            endpoint_url=config.endpoint_url,
            transport=transport or TransportPolicy(),
        )
    return None
