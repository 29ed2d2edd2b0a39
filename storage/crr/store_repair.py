"""Repairing an incomplete ship target from its peers: a manifest or segment that one target lacks
and another holds is copied, after it is verified, and never over different bytes.

Verified means (I5): a manifest is in canonical form, signed by the source region's key, names this
stream, the seqs of its key and the segment key those seqs give, and links into the chain - its
`prev_manifest_sha256` is the hash of the manifest before it (as the targets hold it), and the
manifest after it names its hash. A segment is copied only with its verified manifest, and only
when its size and SHA-256 are the manifest's. Bytes that fail are refused and reported, and two
targets holding different bytes at one key are reported as a conflict: first write wins, so an
operator decides (runbooks/wal-crr-ops.md#crrstoreincomplete).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import ManifestError
from ledger.manifest import Manifest, parse_manifest, verify_manifest
from ledger.manifest_ref import ManifestRef
from storage.crr.naming import segment_key
from storage.crr.store_audit import StoreAudit, audit_stream
from storage.objectstore import ObjectStore


@dataclass(frozen=True)
class Problem:
    """An object that could not be made complete, and why."""

    key: str
    target: str  # the target it is missing from ("" when no target holds it)
    reason: str


@dataclass
class StoreRepairReport:
    """What one audit window found and did, per target."""

    stream: str
    after_seq: int
    through_seq: int
    through_key: str | None  # the manifest ending at through_seq (None: none after after_seq)
    through_sha256: str | None  # its hash, when every holder agrees on its bytes
    complete: bool
    dry_run: bool
    missing: dict[str, int]  # target -> objects it lacked that a peer holds
    repaired: dict[str, int]  # target -> objects copied into it
    refused: list[Problem] = field(default_factory=list)  # source bytes did not verify
    conflicts: list[Problem] = field(default_factory=list)  # different bytes at one key
    lost: list[Problem] = field(default_factory=list)  # held by no target at all

    def remaining(self, target: str) -> int:
        """Objects `target` still lacks after this window: what a gauge reports."""
        return self.missing[target] - self.repaired[target]

    @property
    def ok(self) -> bool:
        """True when nothing was refused, conflicting or lost and nothing missing remains."""
        return not (self.refused or self.conflicts or self.lost) and not any(
            self.remaining(target) for target in self.missing
        )

    def as_dict(self) -> dict[str, Any]:
        """The report as nested dicts and lists."""
        return asdict(self)


class _Refused(Exception):
    """A candidate for copying failed a check; its message says which."""


async def repair_stream(
    targets: Mapping[str, ObjectStore],
    stream: str,
    public_key: Ed25519PublicKey,
    after_seq: int = 0,
    after_sha256: str | None = None,
    max_manifests: int | None = None,
    dry_run: bool = False,
) -> StoreRepairReport:
    """Audit `stream` after `after_seq` in every target and copy what a target lacks from a
    peer that holds verified bytes (nothing is written with `dry_run`).

    `after_sha256` is the hash of the manifest ending at `after_seq` when the caller knows it
    (the chain link of the window's first manifest); `max_manifests` bounds the window (see
    `audit_stream`). Never raises for what it finds (the report lists it); raises
    ObjectStoreError when a target cannot be read or written.
    """
    audit = await audit_stream(targets, stream, after_seq, max_manifests)
    repair = _Repair(targets, audit, public_key, after_sha256)
    report = StoreRepairReport(
        stream=stream,
        after_seq=after_seq,
        through_seq=audit.through_seq,
        through_key=audit.manifests[-1].key if audit.manifests else None,
        through_sha256=None,
        complete=audit.complete,
        dry_run=dry_run,
        missing={name: 0 for name in targets},
        repaired={name: 0 for name in targets},
        conflicts=[
            Problem(c.key, "", f"sizes differ between targets: {c.sizes}") for c in audit.conflicts
        ],
        lost=[
            *(
                Problem(f"seqs {first}-{last}", "", "no target holds a manifest for these seqs")
                for first, last in audit.lost
            ),
            *(
                Problem(key, "", "named by a manifest, held by no target")
                for key in audit.segments_nobody_holds()
            ),
        ],
    )
    conflicted = {problem.key for problem in report.conflicts}
    for name in targets:
        for key in audit.missing(name):
            report.missing[name] += 1
            if dry_run or key in conflicted:
                continue
            try:
                await repair.copy(name, key)
            except _Refused as exc:
                report.refused.append(Problem(key, name, str(exc)))
                continue
            except _Conflict as exc:
                report.conflicts.append(Problem(key, name, str(exc)))
                continue
            report.repaired[name] += 1
    if audit.manifests:
        report.through_sha256 = await repair.sha256_of(audit.manifests[-1])
    return report


class _Conflict(Exception):
    """Two targets hold different bytes at one key (or a copy met different bytes)."""


class _Repair:
    """The copies of one window, with every manifest read at most once."""

    def __init__(
        self,
        targets: Mapping[str, ObjectStore],
        audit: StoreAudit,
        public_key: Ed25519PublicKey,
        after_sha256: str | None,
    ) -> None:
        self._targets = targets
        self._audit = audit
        self._public_key = public_key
        self._after_sha256 = after_sha256
        self._bytes: dict[str, bytes] = {}
        self._by_key = {ref.key: ref for ref in audit.manifests}
        self._by_first = {ref.first_seq: ref for ref in audit.manifests}
        self._by_last = {ref.last_seq: ref for ref in audit.manifests}
        self._segment_of = {
            segment_key(audit.stream, ref.first_seq, ref.last_seq): ref for ref in audit.manifests
        }

    async def copy(self, target: str, key: str) -> None:
        """Copy `key` into `target` from a peer, verified. Raises _Refused or _Conflict."""
        ref = self._segment_of.get(key)
        if ref is not None:
            manifest = await self._verified_manifest(self._by_first[ref.first_seq])
            data = await self._verified_segment(key, manifest)
        else:
            await self._verified_manifest(self._by_key[key])
            data = self._bytes[key]
        await self._put_once(target, key, data)

    async def sha256_of(self, ref: ManifestRef) -> str | None:
        try:
            return hashlib.sha256(await self._manifest_bytes(ref.key)).hexdigest()
        except (_Refused, _Conflict):
            return None

    async def _verified_manifest(self, ref: ManifestRef) -> Manifest:
        data = await self._manifest_bytes(ref.key)
        try:
            manifest = parse_manifest(data)
        except ManifestError as exc:
            raise _Refused(f"{ref.key}: {exc}") from exc
        if not verify_manifest(self._public_key, manifest):
            raise _Refused(f"{ref.key}: signature does not verify under the region's key")
        expected_segment = segment_key(self._audit.stream, ref.first_seq, ref.last_seq)
        if (str(manifest.stream), manifest.first_seq, manifest.last_seq, manifest.segment) != (
            self._audit.stream,
            ref.first_seq,
            ref.last_seq,
            expected_segment,
        ):
            raise _Refused(
                f"{ref.key}: names {manifest.stream} seqs {manifest.first_seq}-"
                f"{manifest.last_seq} segment {manifest.segment}, expected {self._audit.stream} "
                f"seqs {ref.first_seq}-{ref.last_seq} segment {expected_segment}"
            )
        await self._check_links(ref, manifest, hashlib.sha256(data).hexdigest())
        return manifest

    async def _check_links(self, ref: ManifestRef, manifest: Manifest, own_sha256: str) -> None:
        """The manifest's place in the chain: the one before it (by hash) and the one after it
        (which names this one's hash, under its own verified signature)."""
        checked = 0
        before = await self._sha256_before(ref)
        if before is not None:
            if manifest.prev_manifest_sha256 != before:
                raise _Refused(
                    f"{ref.key}: chains to {manifest.prev_manifest_sha256 or '(nothing)'}, "
                    f"but the manifest before it hashes to {before or '(nothing)'}"
                )
            checked += 1
        after = self._by_first.get(ref.last_seq + 1)
        if after is not None:
            try:
                successor = parse_manifest(await self._manifest_bytes(after.key))
            except ManifestError as exc:
                raise _Refused(f"{ref.key}: the manifest after it is unreadable: {exc}") from exc
            if not verify_manifest(self._public_key, successor):
                raise _Refused(f"{ref.key}: the manifest after it does not verify")
            if successor.prev_manifest_sha256 != own_sha256:
                raise _Refused(f"{ref.key}: the manifest after it chains to other bytes")
            checked += 1
        if not checked:
            raise _Refused(f"{ref.key}: no neighbour in the window to check its chain link")

    async def _sha256_before(self, ref: ManifestRef) -> str | None:
        if ref.first_seq == 1:
            return ""
        before = self._by_last.get(ref.first_seq - 1)
        if before is not None:
            return hashlib.sha256(await self._manifest_bytes(before.key)).hexdigest()
        if ref.first_seq - 1 == self._audit.after_seq:
            return self._after_sha256
        return None

    async def _manifest_bytes(self, key: str) -> bytes:
        """The bytes every holder of `key` agrees on. Raises _Conflict when they differ."""
        if key not in self._bytes:
            copies = {name: await self._targets[name].get(key) for name in self._audit.holders(key)}
            if len(set(copies.values())) > 1:
                hashes = {name: hashlib.sha256(data).hexdigest() for name, data in copies.items()}
                raise _Conflict(f"targets hold different bytes: sha256 {hashes}")
            self._bytes[key] = next(iter(copies.values()))
        return self._bytes[key]

    async def _verified_segment(self, key: str, manifest: Manifest) -> bytes:
        reasons: list[str] = []
        for holder in self._audit.holders(key):
            data = await self._targets[holder].get(key)
            if len(data) != manifest.compressed_bytes:
                reasons.append(
                    f"{holder}: {len(data)} bytes, manifest says {manifest.compressed_bytes}"
                )
            elif hashlib.sha256(data).hexdigest() != manifest.sha256:
                reasons.append(f"{holder}: SHA-256 differs from the manifest's")
            else:
                return data
        raise _Refused(f"{key}: no peer holds verified bytes ({'; '.join(reasons)})")

    async def _put_once(self, target: str, key: str, data: bytes) -> None:
        store = self._targets[target]
        if await store.put_if_absent(key, data):
            return
        theirs = await store.get(key)
        if theirs != data:
            raise _Conflict(
                f"{store.describe()} meanwhile holds other bytes (sha256 "
                f"{hashlib.sha256(theirs).hexdigest()}, verified "
                f"{hashlib.sha256(data).hexdigest()})"
            )
