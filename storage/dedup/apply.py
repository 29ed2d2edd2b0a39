"""Applying a batch of records to one shard: one statement, any batch size.

The work is the shard's `dedup_apply` function (migration 0004_shard_dedup_apply_function.sql,
which explains each step and why the result is the same in any order, I3): CLAIM inserts each
new key's earliest record and locks every existing winner of the batch in key order; RESOLVE
judges, on a fresh snapshot, only the records CLAIM did not settle (none for a batch of new keys);
then the stream's applied position is raised. Since migration 0007 a record below its tenant's
retention horizon is refused before CLAIM and answered Outcome.EXPIRED (nothing of it is written).
One function call is one statement and one implicit transaction, so the records, their outcomes
and the position commit together or not at all.

READ COMMITTED suffices because the row locks, not the snapshot, serialize writers of a key; a
stricter level would only add retries. Every batch takes its locks in one statement and in key
order, so two batches cannot deadlock on each other; a deadlock or serialization failure (say,
against an operator's hand-written transaction) still retries the call a few times.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.dedup.errors import DedupError, DedupRecordError
from storage.dedup.models import ApplyResult, DedupRecord, Origin, Outcome

APPLY = """
SELECT ord, is_winner, same_digest, winner_region, winner_node, winner_seq, winner_hlc,
       winner_digest
FROM dedup_apply(
    $1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bytea[],
    $8::bytea[], $9::bigint[], $10::text, $11::bigint
)
"""

MAX_ATTEMPTS = 5
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@dataclass(frozen=True, slots=True)
class Position:
    """Applied through `seq` of WAL stream `stream` (`<region>/<node>`)."""

    stream: str
    seq: int


def checked_position(stream: str | None, through_seq: int | None) -> Position | None:
    """The position `stream`/`through_seq` name (None when neither is given). Raises
    DedupRecordError when only one is given or either is malformed."""
    if stream is None and through_seq is None:
        return None
    if stream is None or through_seq is None:
        raise DedupRecordError(
            f"expected stream and through_seq together, got stream={stream!r}, "
            f"through_seq={through_seq!r}"
        )
    if "/" not in stream:
        raise DedupRecordError(f"stream: expected '<region>/<node>', got {stream!r}")
    if isinstance(through_seq, bool) or not 0 <= through_seq <= (1 << 63) - 1:
        raise DedupRecordError(
            f"through_seq: expected an integer in 0..2**63-1, got {through_seq!r}"
        )
    return Position(stream, through_seq)


def _columns(records: Sequence[DedupRecord]) -> list[list[Any]]:
    return [
        [r.tenant_id for r in records],
        [r.event_id for r in records],
        [r.hlc for r in records],
        [r.region for r in records],
        [r.node for r in records],
        [r.seq for r in records],
        [r.digest for r in records],
        [r.event for r in records],
        [r.accepted_at_ms for r in records],
    ]


def _settled(record: DedupRecord) -> ApplyResult:
    """The result of a record `dedup_apply` settled: its key's winner."""
    return ApplyResult(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        outcome=Outcome.ACCEPTED,
        winner=record.origin,
        winner_hlc=record.hlc,
        winner_digest=record.digest,
    )


def _expired(record: DedupRecord, horizon_hlc: int) -> ApplyResult:
    """The result of a record `dedup_apply` refused: below its tenant's retention horizon."""
    return ApplyResult(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        outcome=Outcome.EXPIRED,
        winner=record.origin,
        winner_hlc=record.hlc,
        winner_digest=record.digest,
        horizon_hlc=horizon_hlc,
    )


def _resolved(record: DedupRecord, row: Any) -> ApplyResult:
    """The result of a record `dedup_apply` judged or refused, from its row."""
    if row["is_winner"] is None:
        # Migration 0007: a refused record's row has no verdict, and the horizon in winner_hlc.
        return _expired(record, int(row["winner_hlc"]))
    if row["is_winner"]:
        outcome = Outcome.ACCEPTED
    elif row["same_digest"]:
        outcome = Outcome.DUPLICATE
    else:
        outcome = Outcome.CONFLICT
    return ApplyResult(
        tenant_id=record.tenant_id,
        event_id=record.event_id,
        outcome=outcome,
        winner=Origin(row["winner_region"], row["winner_node"], int(row["winner_seq"])),
        winner_hlc=int(row["winner_hlc"]),
        winner_digest=bytes(row["winner_digest"]),
    )


async def apply_to_shard(
    pool: Any, records: Sequence[DedupRecord], position: Position | None
) -> list[ApplyResult]:
    """Apply `records` (all routed to this shard) and advance `position`, atomically.

    Returns one result per record, in order. Requires records that passed `DedupRecord.check`.
    Raises asyncpg errors as they come, after retrying deadlocks and serialization failures.
    """
    stream, seq = (position.stream, position.seq) if position is not None else (None, None)
    args = [*_columns(records), stream, seq]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            rows = await pool.fetch(APPLY, *args)
        except asyncpg.UndefinedFunctionError as exc:
            raise DedupError(
                f"apply: the shard has no dedup_apply function ({exc}); expected schema version "
                "4 or later: run `geoledger db migrate`"
            ) from exc
        except _RETRYABLE:
            if attempt == MAX_ATTEMPTS:
                raise
            # Jitter so that two transactions that collided do not collide again in lock step.
            await asyncio.sleep(random.uniform(0.001, 0.01) * attempt)
            continue
        # Only records CLAIM did not settle (or that a retention horizon refused) come back, by
        # their 1-based ordinal; every other record is its key's winner now.
        resolved = {int(row["ord"]): row for row in rows}
        return [
            _resolved(record, resolved[ord]) if ord in resolved else _settled(record)
            for ord, record in enumerate(records, 1)
        ]
    raise AssertionError("unreachable: the last attempt either returns or raises")
