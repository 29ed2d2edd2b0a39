"""Errors raised by the dedup store. Every message says what was expected and what was got."""

from __future__ import annotations


class DedupError(Exception):
    """Base of every error `storage.dedup` raises."""


class DedupRecordError(DedupError):
    """A record handed to `apply` is not one the store can hold; nothing was written."""


class RoutingError(DedupError):
    """The routing table is missing, or names shards the configuration does not have."""


class MigrationError(DedupError):
    """A schema migration file is malformed, was changed after it was applied, or failed."""


class DedupShardError(DedupError):
    """An operation on one shard failed; for `apply`, that shard's transaction was rolled back.

    `shard` is the index of the shard that failed. Other shards of the same batch may have
    committed: re-applying the whole batch is safe, since applying a record twice is a no-op.
    """

    def __init__(self, shard: int, message: str) -> None:
        super().__init__(f"dedup shard {shard}: {message}")
        self.shard = shard


class DedupUnavailableError(DedupError):
    """A database of the store could not be reached; the message names it (never its password)."""


class RouteLeaseExpiredError(DedupUnavailableError):
    """A watched store has not read its region's route for longer than its lease: it refuses to
    write rather than write with a route a re-sharding may have moved on from."""


class ReshardConflictError(DedupError):
    """A re-sharding copy found keys whose records on the source and the target shard cannot be
    merged (ledger.dedup_merge: one stream position with two records, or a copy earlier than
    every winner row; at most the first ten keys are named); the chunk wrote nothing."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        named = ", ".join(f"{tenant_id}/{event_id}" for tenant_id, event_id in keys)
        super().__init__(
            f"expected the records of each key on the two shards to merge (one record per "
            f"stream position, the earliest a winner row); found records that do not for {named}"
        )
        self.keys = keys


class MigrationRefusedError(DedupError):
    """A re-sharding cannot start or go on as asked: no such plan, a plan already ended or
    running elsewhere, another migration of the region running, or a route that changed since
    the plan was measured. Retrying does not help; the message says what to do."""
