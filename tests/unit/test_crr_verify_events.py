"""Replay's event re-verification (I1): the same records whether a segment is checked in worker
processes or in the caller, keys resolved once, and every kind of bad record refused by seq.

The key registry is a dict here (this is the pure part); tests/e2e/test_crr_gaps_and_tampering.py
drives the same code through the replay activity against the real registry and stores.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization

from ledger.envelope import parse_signed_event
from ledger.record import WalRecord, decode_record, encode_record
from storage.cpu_pool import CpuPool
from storage.crr.errors import VerificationError
from storage.crr.verify_events import EventVerifier
from storage.dedup.from_wal import dedup_record_from
from storage.keys import TenantKey
from tests.support.tenants import tenant

if TYPE_CHECKING:  # imported for the annotation only: pytest would try to collect the class
    from tests.support.tenants import TestTenant

ACME, GLOBEX, INITECH = tenant("acme"), tenant("globex"), tenant("initech")
STREAM = "us/n1"
HLC0 = time.time_ns() // 1_000_000 << 16


class Registry:
    """Registered keys (not initech's), counting lookups."""

    def __init__(self) -> None:
        self.lookups: list[str] = []
        self._keys = {who.key_id: _registered(who) for who in (ACME, GLOBEX)}

    async def get(self, key_id: str) -> TenantKey | None:
        self.lookups.append(key_id)
        return self._keys.get(key_id)


def _registered(who: TestTenant) -> TenantKey:
    raw = who.private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return TenantKey(who.key_id, who.tenant_id, raw, datetime.now(UTC), None)


def _frame(seq: int, event: dict[str, object], node: str = "n1") -> tuple[int, bytes]:
    record = WalRecord(
        hlc=HLC0 + seq,
        region="us",
        node=node,
        accepted_at_ms=HLC0 >> 16,
        event=parse_signed_event(event),
    )
    return seq, encode_record(record)


def _segment(count: int, first_seq: int = 1) -> list[tuple[int, bytes]]:
    return [
        _frame(seq, (GLOBEX if seq % 3 else ACME).event(f"evt-{seq}", {"seq": seq}))
        for seq in range(first_seq, first_seq + count)
    ]


async def in_the_caller(frames: list[tuple[int, bytes]]) -> list[object]:
    """The same check with every record verified in this process (no workers)."""
    verifier = EventVerifier(Registry(), "eu", CpuPool(processes=1, inline_max=len(frames)))
    return list(await verifier.dedup_records(frames, STREAM))


def _expected(frames: list[tuple[int, bytes]]) -> list[object]:
    return [dedup_record_from(decode_record(raw), seq) for seq, raw in frames]


@pytest.fixture
async def verifier() -> AsyncIterator[EventVerifier]:
    workers = CpuPool(processes=2, inline_max=8, preload=["storage.crr.verify_events"])
    verifier = EventVerifier(Registry(), "eu", workers)
    yield verifier
    verifier.close()


async def test_workers_and_the_caller_derive_the_same_records(verifier: EventVerifier) -> None:
    frames = _segment(120)
    in_workers = await verifier.dedup_records(frames, STREAM)
    in_caller = await in_the_caller(frames)
    assert in_workers == in_caller == _expected(frames)


async def test_each_key_is_looked_up_once_across_segments(verifier: EventVerifier) -> None:
    registry = verifier._keys
    assert isinstance(registry, Registry)
    await verifier.dedup_records(_segment(50, first_seq=1), STREAM)
    await verifier.dedup_records(_segment(50, first_seq=51), STREAM)
    assert sorted(registry.lookups) == sorted([ACME.key_id, GLOBEX.key_id])


def _tampered(seq: int) -> tuple[int, bytes]:
    event = ACME.event(f"evt-{seq}", {"seq": seq})
    event["payload"] = {"seq": -seq}  # changed after signing
    return _frame(seq, event)


def _bad_cases() -> list[tuple[str, tuple[int, bytes], str]]:
    forged = INITECH.event("evt-40", {"seq": 40}, tenant_id="acme", key_id=INITECH.key_id)
    return [
        ("tampered payload", _tampered(40), "seq 40: event 'evt-40' signature does not verify"),
        (
            "unregistered key",
            _frame(40, INITECH.event("evt-40")),
            f"seq 40: key {INITECH.key_id!r} of tenant 'initech' is unknown in region eu",
        ),
        (
            "another tenant's key",
            _frame(40, ACME.event("evt-40", key_id=GLOBEX.key_id)),
            f"seq 40: key {GLOBEX.key_id!r} of tenant 'acme' is unknown in region eu",
        ),
        (
            "unregistered key claiming a tenant",
            _frame(40, forged),
            f"seq 40: key {INITECH.key_id!r} of tenant 'acme' is unknown in region eu",
        ),
        ("another stream's record", _frame(40, ACME.event("evt-40"), node="n2"), "us/n2"),
        ("not canonical", (40, _frame(40, ACME.event("evt-40"))[1] + b" "), "canonical"),
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [(frame, message) for _, frame, message in _bad_cases()],
    ids=[name for name, _, _ in _bad_cases()],
)
async def test_a_bad_record_is_refused_by_seq_in_workers_and_in_the_caller(
    verifier: EventVerifier, bad: tuple[int, bytes], message: str
) -> None:
    frames = [*_segment(39), bad, *_segment(40, first_seq=41)]
    with pytest.raises(VerificationError, match="us/n1 seq 40: ") as in_workers:
        await verifier.dedup_records(frames, STREAM)
    assert message in str(in_workers.value)
    with pytest.raises(VerificationError) as in_caller:
        await in_the_caller(frames)
    assert str(in_caller.value) == str(in_workers.value)
