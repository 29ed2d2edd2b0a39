"""What the `geoledger audit` commands do against the regions' control databases: status, the
latest checkpoint, the witnesses' state and reset, and the dead-letter queue.

Each function opens the region's dedup store (its control pool holds the audit tables) for the
one call and closes it again, like `geoledger events get`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.audit_models import StoredCheckpoint
from ledger.config import Settings
from ledger.stream_id import StreamId
from storage.audit import latest_checkpoint
from storage.audit.gauges import AuditSample, sample_region
from storage.audit.witness_forks import clear_fork, forked_witnesses
from storage.audit.witness_health import health
from storage.audit.witness_keys import witness_targets
from storage.dedup.store import DedupStore
from storage.objectstore import open_object_store


@contextlib.asynccontextmanager
async def control_db(settings: Settings, region: str) -> AsyncIterator[Any]:
    """The control pool of `region`, for the length of the block."""
    async with await DedupStore.open(settings.region(region)) as store:
        yield store.pools.control


@dataclass(frozen=True)
class WitnessState:
    """One witness of a region's log as the region sees it."""

    witness: str
    last_size: int | None
    consecutive_failures: int
    circuit_open: bool
    open_until: datetime | None
    last_error: str | None
    fork: str | None  # what the witness said when it refused the log, until reset


@dataclass(frozen=True)
class RegionAudit:
    """One region's audit as its database and store show it."""

    region: str
    origin: str
    checkpoint: StoredCheckpoint | None
    sample: AuditSample
    witnesses: list[WitnessState]


async def region_audit(settings: Settings, region: str) -> RegionAudit:
    """The region's latest checkpoint, backlog, dead-letter queue size and witnesses."""
    streams = [str(StreamId(region, node)) for node in settings.region(region).stream_nodes]
    store = open_object_store(settings.region(region).object_store)
    async with control_db(settings, region) as db:
        return RegionAudit(
            region=region,
            origin=settings.audit.origin(region),
            checkpoint=await latest_checkpoint(db),
            sample=await sample_region(db, store, streams),
            witnesses=await witness_states(settings, region, db),
        )


async def witness_states(settings: Settings, region: str, db: Any) -> list[WitnessState]:
    """Every configured witness of the region's log, with its breaker and fork mark."""
    forks = {mark.witness: mark.detail for mark in await forked_witnesses(db)}
    states = []
    for target in witness_targets(settings, settings.audit.origin(region)):
        state = await health(db, target.name)
        states.append(
            WitnessState(
                witness=target.name,
                last_size=state.last_size,
                consecutive_failures=state.consecutive_failures,
                circuit_open=state.is_open,
                open_until=state.open_until,
                last_error=state.last_error,
                fork=forks.get(target.name),
            )
        )
    return states


async def latest(settings: Settings, region: str) -> StoredCheckpoint | None:
    """The region's latest signed checkpoint; None before the first batch."""
    async with control_db(settings, region) as db:
        return await latest_checkpoint(db)


async def reset_witness(settings: Settings, region: str, witness: str) -> bool:
    """Clear `witness`'s fork mark and breaker in `region`; False when it has no state there.

    Raises KeyError naming the region's witnesses when `witness` is not one of them.
    """
    names = [t.name for t in witness_targets(settings, settings.audit.origin(region))]
    if witness not in names:
        raise KeyError(
            f"{witness!r} is not a witness of region {region}'s log; its witnesses: "
            f"{', '.join(names) or '(none configured)'}"
        )
    async with control_db(settings, region) as db:
        return await clear_fork(db, witness)
