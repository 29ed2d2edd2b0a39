"""The error of a body that could not be read back from a lower tier: it names the key, the tier,
where the bytes were read from, and a short reason, so an operator knows what to look at."""

from __future__ import annotations

from storage.tiering.errors import TieringError


class TieredReadError(TieringError):
    """The body of (`tenant_id`, `event_id`) in tier `tier` could not be produced; nothing is
    returned. `source` is where its bytes are (the shard's warm_body column, or the store URL and
    pack of a cold body), `reason` a short class of failure (the label of
    cold_driver_errors_total for cold reads) and `detail` the underlying error."""

    def __init__(
        self, tenant_id: str, event_id: str, tier: str, source: str, reason: str, detail: str
    ) -> None:
        super().__init__(
            f"{tier} body of {tenant_id}/{event_id} ({source}) unreadable, {reason}: {detail}"
        )
        self.tenant_id = tenant_id
        self.event_id = event_id
        self.tier = tier
        self.source = source
        self.reason = reason
        self.detail = detail


class TieredBodiesMissingError(TieringError):
    """A row's body is below hot but the reader was opened without the region's tiered bodies
    (object store, dictionaries): a programming error of the caller, never a wrong answer."""

    def __init__(self, tenant_id: str, event_id: str, tier: str) -> None:
        super().__init__(
            f"body of {tenant_id}/{event_id} is {tier}: expected a store opened with tiered "
            "bodies (DedupStore.open(..., tiering=...)), got one that reads hot bodies only"
        )
        self.tenant_id = tenant_id
        self.event_id = event_id
        self.tier = tier


class BodyArchived(TieredReadError):
    """The cold body's pack is in an archive class (S3 GLACIER / DEEP_ARCHIVE) with no restored
    copy: nothing is wrong with it, it just cannot be read before a restore of pack `pack_id`
    (RestoreWorkflow) has made one. `retry_after_s` is when a read is worth trying again
    (`[tier_restore]` retry_after_s, an estimate of the class's restore time)."""

    def __init__(
        self, tenant_id: str, event_id: str, source: str, pack_id: str, retry_after_s: int
    ) -> None:
        super().__init__(
            tenant_id,
            event_id,
            "cold",
            source,
            "archived",
            f"restoring, retry after {retry_after_s} s",
        )
        # Not "unreadable": the body is fine and reads once the restore is done.
        self.args = (
            f"cold body of {tenant_id}/{event_id} ({source}) is archived: restoring, retry "
            f"after {retry_after_s} s",
        )
        self.pack_id = pack_id
        self.retry_after_s = retry_after_s
