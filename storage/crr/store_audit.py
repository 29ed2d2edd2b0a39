"""Comparing what the ship targets of one stream hold: manifest keys, and the segment keys those
manifests name, over a window of sequence numbers.

Every target of a stream should hold the same chain: manifests for seqs 1..N without a hole, and
the segment each of them names. A target that lacks an object another target holds is
*incomplete* (repairable from that peer: storage/crr/store_repair.py); a seq range no target holds
a manifest for is *lost* (nothing to copy from); two targets holding objects of different sizes at
one key is a *conflict* (first write wins, so an operator decides). Listings carry no content
hashes on every backend, so equal sizes with different bytes show only when the bytes are read
(the repair and the replayer do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ledger.manifest_ref import ManifestRef
from storage.crr.naming import (
    manifest_start_after,
    manifests_prefix,
    parse_manifest_key,
    segment_key,
    stream_prefix,
)
from storage.objectstore import ObjectStore


@dataclass(frozen=True)
class TargetHoldings:
    """One target's objects of a stream inside a window: key -> size."""

    manifests: dict[str, int]
    segments: dict[str, int]


@dataclass(frozen=True)
class SizeConflict:
    """An object present on several targets with different sizes on them."""

    key: str
    sizes: dict[str, int]  # target -> size


@dataclass(frozen=True)
class StoreAudit:
    """What the targets of `stream` hold for seqs after `after_seq` up to `through_seq`."""

    stream: str
    after_seq: int
    through_seq: int  # the window's end: the last seq of the last manifest compared
    complete: bool  # the window reached the newest manifest of every target
    manifests: list[ManifestRef]  # the union of every target's manifests, in seq order
    holdings: dict[str, TargetHoldings]
    lost: list[tuple[int, int]] = field(default_factory=list)  # seq ranges in no target
    conflicts: list[SizeConflict] = field(default_factory=list)

    def missing(self, target: str) -> list[str]:
        """Keys `target` lacks that some other target holds, manifests before their segments'
        keys are listed (segments first is the order a repair must copy them in)."""
        held = self.holdings[target]
        keys: list[str] = []
        for ref in self.manifests:
            segment = segment_key(self.stream, ref.first_seq, ref.last_seq)
            if segment not in held.segments and self.holders(segment):
                keys.append(segment)
            if ref.key not in held.manifests:
                keys.append(ref.key)
        return keys

    def holders(self, key: str) -> list[str]:
        """The targets holding `key`."""
        return [
            name
            for name, held in self.holdings.items()
            if key in held.manifests or key in held.segments
        ]

    def segments_nobody_holds(self) -> list[str]:
        """Segments named by a manifest that no target holds (lost, like a chain hole)."""
        return [
            key
            for ref in self.manifests
            if not self.holders(key := segment_key(self.stream, ref.first_seq, ref.last_seq))
        ]


async def audit_stream(
    targets: Mapping[str, ObjectStore],
    stream: str,
    after_seq: int = 0,
    max_manifests: int | None = None,
) -> StoreAudit:
    """List and compare the objects of `stream` after `after_seq` in every target.

    Requires at least one target and `max_manifests` None or >= 1. With `max_manifests`, each
    target lists at most that many manifests and the window ends where the shortest full listing
    ends, so every target is compared over the same seqs; `complete` says whether the window
    reached the end. Raises ObjectStoreError when a target cannot be listed.
    """
    if not targets:
        raise ValueError("expected at least one ship target")
    if max_manifests is not None and max_manifests < 1:
        raise ValueError(f"expected max_manifests >= 1 or None, got {max_manifests}")
    listed = {
        name: await _list_manifests(store, stream, after_seq, max_manifests)
        for name, store in targets.items()
    }
    # A target that filled its listing may hold more beyond it: compare up to where all stop.
    full = [
        refs[-1].last_seq
        for refs in listed.values()
        if max_manifests is not None and len(refs) == max_manifests
    ]
    through = min(full) if full else None
    union: dict[str, ManifestRef] = {}
    for refs in listed.values():
        for ref in refs:
            if through is None or ref.last_seq <= through:
                union[ref.key] = ref
    manifests = sorted(union.values(), key=lambda ref: ref.first_seq)
    end = through if through is not None else (manifests[-1].last_seq if manifests else after_seq)
    holdings = {
        name: TargetHoldings(
            manifests={ref.key: ref.size for ref in refs if ref.key in union},
            segments=await _list_segments(targets[name], stream, after_seq, end),
        )
        for name, refs in listed.items()
    }
    return StoreAudit(
        stream=stream,
        after_seq=after_seq,
        through_seq=end,
        complete=through is None,
        manifests=manifests,
        holdings=holdings,
        lost=_chain_holes(manifests, after_seq),
        conflicts=_size_conflicts(holdings),
    )


class _SizedRef(ManifestRef):
    size: int = 0


async def _list_manifests(
    store: ObjectStore, stream: str, after_seq: int, limit: int | None
) -> list[_SizedRef]:
    refs: list[_SizedRef] = []
    async for info in store.list(
        prefix=manifests_prefix(stream),
        start_after=manifest_start_after(stream, after_seq),
        limit=limit,
    ):
        ref = parse_manifest_key(stream, info.key)
        if ref is not None:
            refs.append(_SizedRef(**ref.model_dump(), size=info.size))
    return refs


async def _list_segments(
    store: ObjectStore, stream: str, after_seq: int, through_seq: int
) -> dict[str, int]:
    """Segment keys (and sizes) whose first seq lies in (after_seq, through_seq]."""
    prefix = f"{stream_prefix(stream)}/segments/"
    start_after = f"{prefix}{after_seq:020d}-{'9' * 20}"
    segments: dict[str, int] = {}
    async for info in store.list(prefix=prefix, start_after=start_after):
        first = info.key[len(prefix) :].split("-", 1)[0]
        if not first.isdigit() or int(first) > through_seq:
            break
        segments[info.key] = info.size
    return segments


def _chain_holes(manifests: list[ManifestRef], after_seq: int) -> list[tuple[int, int]]:
    """Seq ranges between `after_seq` and the last manifest that no manifest covers."""
    holes: list[tuple[int, int]] = []
    expected = after_seq + 1
    for ref in manifests:
        if ref.first_seq > expected:
            holes.append((expected, ref.first_seq - 1))
        expected = max(expected, ref.last_seq + 1)
    return holes


def _size_conflicts(holdings: Mapping[str, TargetHoldings]) -> list[SizeConflict]:
    sizes: dict[str, dict[str, int]] = {}
    for name, held in holdings.items():
        for key, size in (*held.manifests.items(), *held.segments.items()):
            sizes.setdefault(key, {})[name] = size
    return [
        SizeConflict(key, by_target)
        for key, by_target in sorted(sizes.items())
        if len(set(by_target.values())) > 1
    ]
