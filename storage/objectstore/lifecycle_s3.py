"""Bucket lifecycle rules on S3 (boto3 `get/put/delete_bucket_lifecycle_configuration`).

S3 replaces a bucket's whole configuration on each put, so writing our rules means writing every
other rule back too: each is put again exactly as it was read. Each of our rules is one S3 rule
(one prefix filter, one transition or one expiration) with a stable id naming what it does; an
S3 rule read back is in the model only when it is enabled, filters by one prefix alone, and
holds nothing but transitions by days and an expiration by days.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from typing_extensions import override

from storage.objectstore.base import TransportPolicy
from storage.objectstore.lifecycle import BucketLifecycle, BucketRule, LifecycleRule
from storage.objectstore.s3_client import open_s3_client
from storage.objectstore.s3_errors import s3_error_code, translate_s3_error

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

T = TypeVar("T")

_NO_CONFIGURATION = "NoSuchLifecycleConfiguration"
_MODELLED_KEYS = {"ID", "Filter", "Status", "Transitions", "Expiration"}


class S3BucketLifecycle(BucketLifecycle):
    """The lifecycle configuration of `bucket`."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region_name: str,
        transport: TransportPolicy,
    ) -> None:
        self._bucket = bucket
        self._url = f"s3://{bucket}"
        self._client: S3Client = open_s3_client(endpoint_url, region_name, transport)

    @override
    def describe(self) -> str:
        return self._url

    @override
    async def read_rules(self) -> list[BucketRule]:
        def read() -> list[Mapping[str, Any]]:
            try:
                answer = self._client.get_bucket_lifecycle_configuration(Bucket=self._bucket)
            except ClientError as exc:
                if s3_error_code(exc) == _NO_CONFIGURATION:
                    return []
                raise
            return list(answer.get("Rules", []))

        return [bucket_rule(raw) for raw in await self._call("read lifecycle", read)]

    @override
    async def write_rules(self, keep: Sequence[BucketRule], rules: Sequence[LifecycleRule]) -> None:
        s3_rules = [dict(rule.raw) for rule in keep] + [s3_rule(rule) for rule in rules]
        if not s3_rules:
            # S3 refuses a configuration without rules; having none is having no configuration.
            await self._call(
                "write lifecycle", self._client.delete_bucket_lifecycle, Bucket=self._bucket
            )
            return
        await self._call(
            "write lifecycle",
            self._client.put_bucket_lifecycle_configuration,
            Bucket=self._bucket,
            LifecycleConfiguration={"Rules": s3_rules},
        )

    async def _call(self, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking boto3 call in a thread; provider errors become the store's errors."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise translate_s3_error(self._url, operation, None, exc) from exc


def s3_rule(rule: LifecycleRule) -> dict[str, Any]:
    """The S3 rule that does exactly `rule`; its id says what it does, so the bucket reads well
    in the console too."""
    s3: dict[str, Any] = {
        "ID": f"geoledger {rule.action} {rule.prefix}",
        "Filter": {"Prefix": rule.prefix},
        "Status": "Enabled",
    }
    if rule.action == "transition":
        s3["Transitions"] = [{"Days": rule.age_days, "StorageClass": rule.storage_class}]
    else:
        s3["Expiration"] = {"Days": rule.age_days}
    return s3


def bucket_rule(raw: Mapping[str, Any]) -> BucketRule:
    """An S3 rule as read, with what it does in our model when the model can say all of it."""
    filter_ = raw.get("Filter", {})
    # The legacy top-level Prefix and a Filter holding only a Prefix mean the same.
    prefix = filter_.get("Prefix") if set(filter_) == {"Prefix"} else raw.get("Prefix")
    summary = f"S3 rule {raw.get('ID', '(no id)')!r} ({raw.get('Status', '?')})"
    return BucketRule(raw=raw, prefix=prefix, rules=_modelled(raw, prefix), summary=summary)


def _modelled(raw: Mapping[str, Any], prefix: str | None) -> tuple[LifecycleRule, ...]:
    """The rule's actions as LifecycleRules, or none when it does anything else too."""
    if prefix is None or raw.get("Status") != "Enabled" or not set(raw) <= _MODELLED_KEYS:
        return ()
    rules: list[LifecycleRule] = []
    for transition in raw.get("Transitions", []):
        if set(transition) != {"Days", "StorageClass"}:
            return ()
        rules.append(
            LifecycleRule(prefix, "transition", transition["Days"], transition["StorageClass"])
        )
    expiration = raw.get("Expiration")
    if expiration is not None:
        if set(expiration) != {"Days"}:
            return ()
        rules.append(LifecycleRule(prefix, "delete", expiration["Days"]))
    return tuple(rules)
