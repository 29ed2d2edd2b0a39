"""The bisection of one stream by the geo-divergence check (ARCHITECTURE §3 "Geo-divergence"):
which seq ranges to fingerprint next, and which to diff record by record, given the
fingerprints both regions returned. Pure, so `GeoDivergenceWorkflow` runs it deterministically."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self

from ledger.seq_range import SeqRange

MAX_DIFF_SEQS = 1 << 16
"""The most seqs one exact diff reads: it holds both regions' records of them in memory."""

RANGES_PER_DIFF_CALL = 64
"""The most ranges one exact diff is handed (they travel in its payload)."""


class RangeFingerprints(Protocol):
    """One region's bucket fingerprints of one range (`RangeFingerprintModel` of the check's
    activities)."""

    def differing_ranges(self, other: Self) -> list[SeqRange]:
        """The buckets whose fingerprints differ from `other`'s, the same range in the other
        region."""
        ...


class StreamBisection:
    """The bisection of one stream, as a plan the workflow feeds with fingerprints.

    Starts from 1..upto. `record` takes both regions' fingerprints of the ranges handed out by
    `next_ranges`; a differing bucket of at most `exact_range` seqs is queued for the exact diff,
    a wider one for the next, finer round. Every bucket is narrower than its range, so this ends.
    At most `max_diff_ranges` ranges are diffed (the lowest seqs first); `truncated` says whether
    some were dropped.
    """

    def __init__(self, upto: int, exact_range: int, max_diff_ranges: int) -> None:
        self.exact_range = exact_range
        self.max_diff_ranges = max_diff_ranges
        self.pending: list[SeqRange] = [SeqRange(lo=1, hi=upto)] if upto > 0 else []
        self.to_diff: list[SeqRange] = []
        self.truncated = False

    def next_ranges(self, limit: int) -> list[SeqRange]:
        """Up to `limit` ranges to fingerprint next, lowest first (sorted and disjoint)."""
        taken, self.pending = self.pending[:limit], self.pending[limit:]
        return taken

    def record(self, in_a: Sequence[RangeFingerprints], in_b: Sequence[RangeFingerprints]) -> None:
        """Queue the differing buckets of the ranges `next_ranges` handed out, given each
        region's fingerprints of them in the same order."""
        for mine, theirs in zip(in_a, in_b, strict=True):
            for seqs in mine.differing_ranges(theirs):
                if seqs.size <= self.exact_range:
                    self.to_diff.append(seqs)
                else:
                    self.pending.append(seqs)
        self._cap()

    def _cap(self) -> None:
        # Every pending range yields at least one range to diff, so their sum bounds the work.
        if len(self.to_diff) + len(self.pending) > self.max_diff_ranges:
            ranked = sorted(
                [(r.lo, True, r) for r in self.to_diff] + [(r.lo, False, r) for r in self.pending],
                key=lambda entry: entry[0],
            )[: self.max_diff_ranges]
            self.to_diff = [r for _, diff, r in ranked if diff]
            self.pending = [r for _, diff, r in ranked if not diff]
            self.truncated = True
        # Ranges found in this round lie below those still waiting: keep the queue sorted, as a
        # fingerprint call needs its ranges sorted and disjoint.
        self.pending.sort(key=lambda r: r.lo)

    def diff_batches(self) -> list[list[SeqRange]]:
        """The ranges to diff, sorted, in batches of at most RANGES_PER_DIFF_CALL ranges and
        MAX_DIFF_SEQS seqs."""
        batches: list[list[SeqRange]] = []
        batch: list[SeqRange] = []
        seqs = 0
        for seq_range in sorted(self.to_diff, key=lambda r: r.lo):
            full = len(batch) == RANGES_PER_DIFF_CALL or seqs + seq_range.size > MAX_DIFF_SEQS
            if batch and full:
                batches.append(batch)
                batch, seqs = [], 0
            batch.append(seq_range)
            seqs += seq_range.size
        if batch:
            batches.append(batch)
        return batches
