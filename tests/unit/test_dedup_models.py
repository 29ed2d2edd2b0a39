"""Record preconditions and the dump encoding, without a database."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ledger.order import WinnerKey
from storage.dedup import DedupRecord, DedupRecordError, Origin
from storage.dedup.dump import _merge, encode_row


def make(**changes: Any) -> DedupRecord:
    fields: dict[str, Any] = dict(
        tenant_id="acme",
        event_id="e1",
        hlc=5,
        region="us",
        node="n1",
        seq=3,
        digest=hashlib.sha256(b"x").digest(),
        event=b"{}",
        accepted_at_ms=7,
    )
    return DedupRecord(**{**fields, **changes})


def test_a_record_knows_its_winner_key_and_origin() -> None:
    record = make()
    record.check()
    assert record.winner_key == WinnerKey(5, "us", "n1", 3)
    assert record.origin == Origin("us", "n1", 3) and str(record.origin.stream) == "us/n1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"digest": b"short"}, "digest: expected 32 bytes, got 5"),
        ({"digest": "0" * 32}, "digest: expected 32 bytes, got str"),
        ({"event": b""}, "event: expected the non-empty bytes"),
        ({"hlc": 2**63}, "hlc: expected an integer in 0..2\\*\\*63-1, got 9223372036854775808"),
        ({"seq": -1}, "seq: expected an integer"),
        ({"accepted_at_ms": 1.5}, "accepted_at_ms: expected an integer"),
        ({"event_id": ""}, "event_id: expected a non-empty string"),
        ({"region": None}, "region: expected a non-empty string"),
    ],
)
def test_bad_fields_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DedupRecordError, match=message):
        make(**changes).check()


def test_row_encoding_is_length_prefixed_per_column() -> None:
    # Derived by hand from the format in storage/dedup/dump.py's docstring.
    expected = (
        b"E"
        + b"\x00\x00\x00\x02ab"
        + b"\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x01\x00"
        + b"\x00\x00\x00\x03\x01\x02\x03"
        + b"\x00\x00\x00\x00"
    )
    assert encode_row(b"E", ["ab", 256, b"\x01\x02\x03", ""]) == expected
    # Column boundaries matter: moving a byte between columns changes the encoding.
    assert encode_row(b"C", ["ab", "c"]) != encode_row(b"C", ["a", "bc"])
    assert encode_row(b"C", ["é"]) == b"C\x00\x00\x00\x02\xc3\xa9"


async def _stream(rows: list[tuple[Any, ...]]) -> AsyncIterator[tuple[Any, ...]]:
    for row in rows:
        yield row


async def test_merge_interleaves_sorted_streams_in_code_point_order() -> None:
    a = [("a", "1"), ("b", "2"), ("z", "9")]
    b = [("a", "0"), ("B", "x"), ("é", "1")]  # sorted by code point: "B" < "a" < "é"
    b.sort()
    merged = [row async for row in _merge([_stream(a), _stream(b), _stream([])], key=lambda r: r)]
    assert merged == sorted(a + b)
