"""Pruning the node's WAL after a ship run, on the node's own CRR worker (the only process
besides the node that sees its WAL directory).

A ship run returns only once each of its manifests is in every ship target, so its result is a
ship watermark that needs no store reads; the node's own dedup position comes from its region's
dedup store. The prune itself (`storage.wal.prune`) holds the directory's checkpoint lock for a
few milliseconds and runs in a thread. It runs at most once per 1/60 of the retention (a minute
by default): pruning is housekeeping, and a ship run should not pay a directory scan four times
a second. A failed prune is logged and counted, never a failed ship run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import Counter, Gauge

from storage.wal import PruneLimits, PruneResult, prune_shipped

log = logging.getLogger("geoledger.crr.prune")

PRUNED_SEGMENTS = Counter(
    "wal_pruned_segments_total",
    "Sealed segments deleted locally after they were shipped, applied and retained.",
    ["stream"],
)
PRUNED_BYTES = Counter("wal_pruned_bytes_total", "Bytes of pruned segments.", ["stream"])
FIRST_RETAINED_SEQ = Gauge(
    "wal_first_retained_seq", "Oldest seq the node's WAL directory still holds.", ["stream"]
)
PRUNE_ERRORS = Counter(
    "wal_prune_errors_total", "Prunes that failed, by error.", ["stream", "error"]
)

# Pruning runs at most once per this fraction of the retention.
RUNS_PER_RETENTION = 60


class ShippedWalPruner:
    """Prunes one stream's WAL directory; one instance per node worker."""

    def __init__(
        self,
        directory: Path,
        stream: str,
        retain_s: float,
        applied_position: Callable[[], Awaitable[int]],
    ) -> None:
        """`applied_position` answers the node's own dedup apply position of `stream`."""
        self._directory = directory
        self._stream = stream
        self._retain_s = retain_s
        self._applied_position = applied_position
        self._interval_s = retain_s / RUNS_PER_RETENTION
        self._last_run: float | None = None

    async def after_ship_run(self, shipped_through_seq: int, manifest_sha256: str) -> None:
        """Prune what `shipped_through_seq` (committed in every ship target, its manifest hashing
        to `manifest_sha256`) allows, unless a prune ran less than the interval ago."""
        now = time.monotonic()
        if self._last_run is not None and now - self._last_run < self._interval_s:
            return
        self._last_run = now
        try:
            await self.prune(shipped_through_seq, manifest_sha256)
        except Exception as exc:  # housekeeping: the ship run succeeded whatever happens here
            PRUNE_ERRORS.labels(self._stream, type(exc).__name__).inc()
            log.warning("%s: pruning shipped WAL segments failed: %s", self._stream, exc)

    async def prune(self, shipped_through_seq: int, manifest_sha256: str) -> PruneResult:
        """Prune now. Raises what the dedup store and `prune_shipped` raise."""
        limits = PruneLimits(
            shipped_through_seq=shipped_through_seq,
            manifest_sha256=manifest_sha256,
            applied_through_seq=await self._applied_position(),
            retain_s=self._retain_s,
            now_s=time.time(),
        )
        result = await asyncio.to_thread(prune_shipped, self._directory, limits)
        PRUNED_SEGMENTS.labels(self._stream).inc(result.segments)
        PRUNED_BYTES.labels(self._stream).inc(result.bytes)
        FIRST_RETAINED_SEQ.labels(self._stream).set(result.first_retained_seq)
        if result.segments:
            log.info(
                "%s: pruned %d shipped segments (%d bytes); the WAL keeps seqs from %d on",
                self._stream,
                result.segments,
                result.bytes,
                result.first_retained_seq,
            )
        return result
