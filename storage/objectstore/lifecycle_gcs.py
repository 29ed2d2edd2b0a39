"""Bucket lifecycle rules on GCS (google-cloud-storage: the bucket's `lifecycle` property, read
with a bucket GET and written with a bucket PATCH).

A PATCH of `lifecycle` replaces every rule, so writing ours writes every other rule back exactly
as it was read. The client's `lifecycle_rules` getter drops rules whose action it does not know
(with a warning), so rules are read from the bucket's raw resource instead: a rule we do not
understand is still written back. Each of our rules is one GCS rule: `SetStorageClass` or
`Delete`, on the condition `age` + one `matchesPrefix`; a GCS rule read back is in the model only
when it is exactly that shape.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from google.cloud.storage.retry import DEFAULT_RETRY
from typing_extensions import override

from storage.objectstore.base import TransportPolicy
from storage.objectstore.gcs_client import open_gcs_client
from storage.objectstore.gcs_errors import GCS_ERRORS, translate_gcs_error
from storage.objectstore.lifecycle import BucketLifecycle, BucketRule, LifecycleRule

T = TypeVar("T")

_TRANSITION = "SetStorageClass"
_DELETE = "Delete"


class GcsBucketLifecycle(BucketLifecycle):
    """The lifecycle configuration of `bucket`."""

    def __init__(
        self, bucket: str, *, endpoint_url: str | None, transport: TransportPolicy
    ) -> None:
        self._name = bucket
        self._url = f"gs://{bucket}"
        self._timeout = (transport.connect_timeout_s, transport.read_timeout_s)
        self._retry = DEFAULT_RETRY.with_timeout(transport.retry_deadline_s)
        self._client = open_gcs_client(self._url, endpoint_url)

    @override
    def describe(self) -> str:
        return self._url

    @override
    async def read_rules(self) -> list[BucketRule]:
        def read() -> list[Mapping[str, Any]]:
            bucket = self._client.get_bucket(self._name, timeout=self._timeout, retry=self._retry)
            # The raw resource, not `lifecycle_rules`: see the module docstring.
            return list(bucket._properties.get("lifecycle", {}).get("rule", []))

        return [bucket_rule(raw) for raw in await self._call("read lifecycle", read)]

    @override
    async def write_rules(self, keep: Sequence[BucketRule], rules: Sequence[LifecycleRule]) -> None:
        gcs_rules = [dict(rule.raw) for rule in keep] + [gcs_rule(rule) for rule in rules]

        def write() -> None:
            bucket = self._client.bucket(self._name)
            # Only `lifecycle` is sent (a PATCH of the changed property); an empty list clears it.
            bucket.lifecycle_rules = gcs_rules
            bucket.patch(timeout=self._timeout, retry=self._retry)

        await self._call("write lifecycle", write)

    async def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run a blocking client call in a thread; provider errors become the store's errors."""
        try:
            return await asyncio.to_thread(fn)
        except GCS_ERRORS as exc:
            raise translate_gcs_error(self._url, operation, None, exc) from exc


def gcs_rule(rule: LifecycleRule) -> dict[str, Any]:
    """The GCS rule that does exactly `rule`."""
    action: dict[str, Any] = (
        {"type": _TRANSITION, "storageClass": rule.storage_class}
        if rule.action == "transition"
        else {"type": _DELETE}
    )
    return {"action": action, "condition": {"age": rule.age_days, "matchesPrefix": [rule.prefix]}}


def bucket_rule(raw: Mapping[str, Any]) -> BucketRule:
    """A GCS rule as read, with what it does in our model when the model can say all of it."""
    action = raw.get("action", {})
    condition = raw.get("condition", {})
    prefixes = condition.get("matchesPrefix", [])
    prefix = (
        prefixes[0] if len(prefixes) == 1 and set(condition) == {"age", "matchesPrefix"} else None
    )
    summary = f"GCS rule {action.get('type', '?')} if {condition}"
    modelled = _modelled(action, condition, prefix)
    return BucketRule(raw=raw, prefix=prefix, rules=modelled, summary=summary)


def _modelled(
    action: Mapping[str, Any], condition: Mapping[str, Any], prefix: str | None
) -> tuple[LifecycleRule, ...]:
    """The rule as one LifecycleRule, or none when it does anything else too."""
    age = condition.get("age")
    if prefix is None or not isinstance(age, int):
        return ()
    if action == {"type": _DELETE}:
        return (LifecycleRule(prefix, "delete", age),)
    if set(action) == {"type", "storageClass"} and action["type"] == _TRANSITION:
        return (LifecycleRule(prefix, "transition", age, action["storageClass"]),)
    return ()
