"""One ingest node: owns the WAL stream `<region>/<node>` and answers ingest requests.

verify (I1) → WAL append + fsync (I2) → dedup apply (I3) → answer. On open, the node recovers its
WAL (torn tail), seeds its clock from the newest record so time never goes backwards across
restarts, and brings the dedup store up to the WAL from the position recorded with each apply.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from opentelemetry import trace

from api.ingest import metrics
from api.ingest.applier import OrderedApplier
from api.ingest.batch import BatchItem, parse_batch
from api.ingest.batch_tenants import events_per_tenant
from api.ingest.errors import EventRestoring, EventUnreadable, NodeDraining, NodeUnavailable
from api.ingest.limits import LoadLimits
from api.ingest.read_auth import ReadAuthenticator
from api.ingest.results import EventResult, Reason, Status
from api.ingest.tracing import (
    DEDUP_APPLY_SPAN,
    VERIFY_SPAN,
    WAL_APPEND_SPAN,
    batch_span,
    batch_tenant,
    describe_batch,
    describe_results,
    stage_span,
)
from api.ingest.verify import KeyResolver, SignatureVerifier
from ledger.hlc import HybridLogicalClock
from ledger.read_config import DEFAULT_MAX_SKEW_S
from ledger.record import WalRecord, decode_record, encode_record
from ledger.stream_id import StreamId
from storage.dedup.from_wal import dedup_record_from
from storage.dedup.models import ApplyResult, Outcome
from storage.dedup.store import DedupStore
from storage.faults import crash_point
from storage.telemetry.log_labels import log_labels
from storage.tiering.read_errors import BodyArchived, TieredReadError
from storage.wal import WalError, WalWriter, iter_records

log = logging.getLogger("geoledger.ingest")

NodeFactory = Callable[[], Awaitable["IngestNode"]]
RECOVERY_BATCH = 1000


class Restores(Protocol):
    """Starts the restore of an archived cold pack (workers/tier_restore.TemporalRestores),
    once per pack while it runs, however many reads ask."""

    async def start(self, tenant: str, region: str, pack_id: str) -> None:
        """Start, or find running, the restore of `tenant`'s pack `pack_id` in `region`."""
        ...


class IngestNode:
    def __init__(
        self,
        region: str,
        node: str,
        wal: WalWriter,
        dedup: DedupStore,
        keys: KeyResolver,
        clock: HybridLogicalClock,
        applier: OrderedApplier,
        limits: LoadLimits,
        on_close: Callable[[], Awaitable[None]] | None = None,
        restores: Restores | None = None,
        read_max_skew_s: int = DEFAULT_MAX_SKEW_S,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.region, self.node = region, node
        self.limits = limits
        self._on_close = on_close
        self._restores = restores
        self._tracer = tracer
        self.stream = str(StreamId(region, node))
        self._wal, self._dedup, self._clock, self._applier = wal, dedup, clock, applier
        self._verifier = SignatureVerifier(keys)
        # Draining (a node leaving): no write starts any more; `drain` seals once the writes
        # already started are in the WAL, so every acknowledged record is in a sealed segment.
        self._draining = False
        self._writing = 0
        self._writes_done = asyncio.Event()
        self._writes_done.set()
        # Reads are signed with the same registered keys as events (api/ingest/read_auth).
        self.reads = ReadAuthenticator(keys, read_max_skew_s)

    @classmethod
    async def open(
        cls,
        region: str,
        node: str,
        wal: WalWriter,
        dedup: DedupStore,
        keys: KeyResolver,
        limits: LoadLimits,
        on_close: Callable[[], Awaitable[None]] | None = None,
        restores: Restores | None = None,
        read_max_skew_s: int = DEFAULT_MAX_SKEW_S,
        tracer: trace.Tracer | None = None,
    ) -> IngestNode:
        """`restores` starts the restore of an archived pack a read meets; None: such reads
        still answer "restoring", and an operator starts the restore. `read_max_skew_s` is
        `[reads] max_skew_s`. `tracer` records a span per batch (api/ingest/tracing.py); None
        records none."""
        stream = str(StreamId(region, node))
        clock = HybridLogicalClock(_wall_ms, last=_newest_hlc(wal))
        await catch_up_dedup(wal, dedup, stream)
        # The applier's task copies the labels now, so its own records name the stream too.
        with log_labels(region=region, node=node):
            applier = OrderedApplier(dedup, stream, next_seq=wal.last_seq + 1, region=region)
        return cls(
            region,
            node,
            wal,
            dedup,
            keys,
            clock,
            applier,
            limits,
            on_close,
            restores,
            read_max_skew_s,
            tracer,
        )

    async def ingest(
        self, body: bytes, trace_parent: Mapping[str, str] | None = None
    ) -> list[EventResult]:
        """Answer one request body. Raises `BatchRejected` (nothing written) for whole-batch
        problems, `Throttled` (nothing written) when a tenant of the batch is over its rate, and
        `NodeUnavailable` when the WAL or dedup store cannot take the batch (`NodeDraining` once
        the node is leaving). `trace_parent` (the request's headers) may carry the W3C trace
        context the batch's span continues."""
        if self._draining:
            raise NodeDraining(f"{self.stream} is leaving and takes no more writes")
        self._writing += 1
        self._writes_done.clear()
        try:
            return await self._ingest(body, trace_parent)
        finally:
            self._writing -= 1
            if self._writing == 0:
                self._writes_done.set()

    async def drain(self) -> int:
        """Stop taking writes, wait for the writes already started, seal the open segment, and
        return the stream's last seq: every acknowledged record is then in a sealed segment,
        which the node's shipper ships. Idempotent; the node keeps serving reads."""
        self._draining = True
        await self._writes_done.wait()
        if self._wal.failed:
            raise NodeUnavailable(f"the WAL of {self.stream} failed: nothing more can be sealed")
        await self._wal.seal()
        return self._wal.last_seq

    async def _ingest(
        self, body: bytes, trace_parent: Mapping[str, str] | None
    ) -> list[EventResult]:
        with batch_span(self._tracer, trace_parent) as span:
            # Charged before anything is verified or written, and before the batch counts as
            # sent (the ingest SLO's denominator): a tenant over its rate is answered 429 whole.
            # A body the shallow count cannot read is charged by its parsed items.
            charged = events_per_tenant(body)
            if charged is not None:
                self.limits.tenants.admit_events(charged)
            items = parse_batch(body)
            if charged is None:
                self.limits.tenants.admit_events(Counter(i.tenant_id for i in items if i.tenant_id))
            tenant = batch_tenant(items)
            if span is not None:
                describe_batch(span, self.region, self.node, tenant, len(items))
            with log_labels(region=self.region, node=self.node, tenant=tenant):
                return await self._answer(items, span)

    async def _answer(self, items: list[BatchItem], span: trace.Span | None) -> list[EventResult]:
        metrics.BATCH_SIZE.observe(len(items))
        started = time.perf_counter()
        with stage_span(self._tracer, VERIFY_SPAN):
            items = await self._verifier.check(items)
        metrics.VERIFY_SECONDS.observe(time.perf_counter() - started)
        valid = [item for item in items if item.event is not None]
        applied: dict[int, tuple[int, ApplyResult]] = {}
        if valid:
            # Shielded: once records are in the WAL their apply must be queued even if the client
            # goes away, or the applier's lanes would wait for them forever.
            applied = await asyncio.shield(self._write_and_apply(valid))
        results = [_result(item, applied.get(item.index)) for item in items]
        # One increment per distinct label rather than per event: each labelled increment takes
        # the metric's lock.
        statuses = Counter(result.status for result in results)
        for status, count in statuses.items():
            metrics.INGEST_RESULTS.labels(status).inc(count)
        for reason, count in Counter(r.reason for r in results if r.reason).items():
            metrics.INGEST_REJECTIONS.labels(reason).inc(count)
        if span is not None:
            describe_results(span, statuses)
        if log.isEnabledFor(logging.DEBUG):
            tally = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
            log.debug("batch of %d events answered: %s", len(items), tally)
        return results

    async def _write_and_apply(self, valid: list[BatchItem]) -> dict[int, tuple[int, ApplyResult]]:
        # Before the WAL: a shard whose lane is full takes nothing more until it answers again.
        self._applier.check_room(
            (item.event.tenant_id, item.event.event_id) for item in valid if item.event is not None
        )
        accepted_at = _wall_ms()
        records = [
            WalRecord(
                hlc=self._clock.now(),
                region=self.region,
                node=self.node,
                accepted_at_ms=accepted_at,
                event=item.event,
            )
            for item in valid
            if item.event is not None
        ]
        try:
            with stage_span(self._tracer, WAL_APPEND_SPAN):
                seqs = await self._wal.append([encode_record(record) for record in records])
        except WalError as exc:
            raise NodeUnavailable(f"the WAL of {self.stream} cannot take writes: {exc}") from exc
        metrics.WAL_LAST_SEQ.set(seqs[-1])
        crash_point("ingest.after_wal_fsync")
        dedup_records = [
            dedup_record_from(record, seq) for record, seq in zip(records, seqs, strict=True)
        ]
        try:
            with stage_span(self._tracer, DEDUP_APPLY_SPAN):
                outcomes = await self._applier.apply(seqs[0], dedup_records)
        except Exception as exc:
            raise NodeUnavailable(
                f"events are durable in the WAL of {self.stream} but the dedup store did not "
                f"answer ({exc}); resend them: the retry is recognised as a duplicate"
            ) from exc
        crash_point("ingest.after_dedup_apply")
        return {
            item.index: (seq, outcome)
            for item, seq, outcome in zip(valid, seqs, outcomes, strict=True)
        }

    async def get(self, tenant_id: str, event_id: str) -> dict[str, Any] | None:
        """The key's winning event and where it was accepted, None when it has none; its body
        from whatever tier it is in. Raises EventUnreadable when that body cannot be read back
        verified: 503 while its store is unreachable, 500 when it is damaged; EventRestoring
        while its pack is archived, after starting the pack's restore."""
        with log_labels(region=self.region, node=self.node, tenant=tenant_id):
            return await self._get(tenant_id, event_id)

    async def _get(self, tenant_id: str, event_id: str) -> dict[str, Any] | None:
        try:
            stored = await self._dedup.get_event(tenant_id, event_id)
        except BodyArchived as exc:
            await self._start_restore(exc)
            raise EventRestoring(exc.retry_after_s, str(exc)) from exc
        except TieredReadError as exc:
            log.error("%s", exc)
            raise _unreadable(exc) from exc
        if stored is None:
            return None
        return {
            "event": json.loads(stored.event),
            "accepted_at_ms": stored.accepted_at_ms,
            "stream": str(stored.origin.stream),
            "seq": stored.origin.seq,
            "hlc": stored.hlc,
            "digest": base64.urlsafe_b64encode(stored.digest).rstrip(b"=").decode(),
        }

    async def _start_restore(self, archived: BodyArchived) -> None:
        if self._restores is None:
            log.warning("%s: no restore started (this node has no Temporal client)", archived)
            return
        try:
            await self._restores.start(archived.tenant_id, self.region, archived.pack_id)
        except Exception:
            # The reader is told to retry either way; the next read asks again.
            log.warning("%s: the restore could not be started", archived, exc_info=True)

    def health(self) -> dict[str, Any]:
        """`ok` is whether the node takes writes (a readiness answer): false once its WAL
        failed or while it drains; `live` is false only when its WAL failed."""
        failed = self._wal.failed
        return {
            "ok": not failed and not self._draining,
            "live": not failed,
            "draining": self._draining,
            "stream": self.stream,
            "wal_last_seq": self._wal.last_seq,
            "wal_failed": failed,
            "apply_backlog": self._applier.backlog,
        }

    async def close(self) -> None:
        await self._applier.close()
        self._verifier.close()
        await self._wal.close()
        await self._dedup.close()
        if self._on_close is not None:
            await self._on_close()


async def catch_up_dedup(wal: WalWriter, dedup: DedupStore, stream: str) -> int:
    """Apply every WAL record after the dedup store's recorded position; return how many.

    Applying is idempotent, so records that were applied but whose position was not yet recorded
    are harmless to apply again. Reads only the WAL after that position, so a start costs what the
    store lacks, not the WAL's history. Raises WalPrunedError when the store's position is older
    than what the WAL keeps (a store restored from an old backup): pruning waits for this node's
    own apply, so those records are only in the ship targets now (rebuild from them: see
    runbooks/wal-crr-ops.md).
    """
    position = await dedup.applied_position(stream)
    batch: list[Any] = []
    applied = 0
    last_seq = position
    for seq, raw in iter_records(wal.directory, after_seq=position):
        batch.append(dedup_record_from(decode_record(raw), seq))
        last_seq = seq
        if len(batch) >= RECOVERY_BATCH:
            await dedup.apply(batch, stream=stream, through_seq=last_seq)
            applied += len(batch)
            batch = []
    if batch:
        await dedup.apply(batch, stream=stream, through_seq=last_seq)
        applied += len(batch)
    if applied:
        log.info("%s: applied %d WAL records the dedup store had not seen", stream, applied)
    return applied


def _unreadable(exc: TieredReadError) -> EventUnreadable:
    """The answer docs/api.md gives for a body that cannot be read: retry later while its store
    is unreachable (503), an operator's matter when it is damaged (500)."""
    status, code = (503, "unavailable") if exc.reason == "unavailable" else (500, "body_unreadable")
    return EventUnreadable(
        status,
        code,
        f"the {exc.tier} body of {exc.tenant_id}/{exc.event_id} cannot be read back verified "
        f"({exc.reason}); nothing is returned",
    )


def _newest_hlc(wal: WalWriter) -> int:
    newest = wal.last_record()
    return decode_record(newest).hlc if newest is not None else 0


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


_STATUS: dict[Outcome, Status] = {
    Outcome.ACCEPTED: "accepted",
    Outcome.DUPLICATE: "duplicate",
    Outcome.CONFLICT: "conflict",
}


def _result(item: BatchItem, applied: tuple[int, ApplyResult] | None) -> EventResult:
    if item.rejection is not None or applied is None:
        rejection = item.rejection
        return EventResult(
            item.index,
            item.tenant_id,
            item.event_id,
            "rejected",
            rejection.reason if rejection else Reason.INTERNAL,
            rejection.detail if rejection else None,
        )
    seq, outcome = applied
    if outcome.outcome is Outcome.EXPIRED:
        return EventResult(
            item.index,
            item.tenant_id,
            item.event_id,
            "rejected",
            Reason.RETENTION_EXPIRED,
            f"below the tenant's retention horizon (hlc {outcome.horizon_hlc})",
            seq=seq,
        )
    status = _STATUS[outcome.outcome]
    return EventResult(item.index, item.tenant_id, item.event_id, status, seq=seq)
