"""The WAL record codec: canonical bytes, exact round trips, and rejection of anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.canonical import canonical_bytes
from ledger.envelope import EventEnvelope
from ledger.errors import RecordDecodeError
from ledger.hlc import MAX_HLC, hlc_pack
from ledger.keys import private_key_from_seed
from ledger.order import WinnerKey
from ledger.record import WalRecord, decode_record, encode_record, record_dict
from ledger.signing import sign_event, verify

KEY = private_key_from_seed(bytes(range(32)))
EVENT = sign_event(
    KEY,
    EventEnvelope(
        tenant_id="acme",
        event_id="order-0001",
        key_id="k1",
        occurred_at="2025-01-31T23:59:59.5+01:00",
        type="order.created",
        payload={"qty": 2.0, "price": 19.99, "note": "line\nbreak \u2028 \U0001f600", "z": [None]},
    ),
)
RECORD = WalRecord(
    hlc=hlc_pack(1_738_367_999_123, 7),
    region="eu",
    node="n1",
    accepted_at_ms=1_738_367_999_125,
    event=EVENT,
)


def test_encoding_is_the_canonical_form_with_hlc_as_a_decimal_string() -> None:
    data = encode_record(RECORD)
    assert data.startswith(b'{"accepted_at_ms":1738367999125,"event":{"event_id":"order-0001",')
    assert data.endswith(b',"hlc":"113925685190524935","node":"n1","region":"eu","v":1}')
    # hlc is beyond 2**53, where a JSON number would lose precision: it must stay a string.
    assert RECORD.hlc > 2**53
    assert b'"qty":2,' in data


def test_round_trip() -> None:
    decoded = decode_record(encode_record(RECORD))
    assert decoded == RECORD
    assert verify(KEY.public_key(), decoded.event)


def test_decode_then_encode_gives_identical_bytes() -> None:
    data = encode_record(RECORD)
    assert encode_record(decode_record(data)) == data


@pytest.mark.parametrize("hlc", [0, 1, 2**53 + 1, MAX_HLC])
def test_hlc_extremes_survive_exactly(hlc: int) -> None:
    record = WalRecord(hlc=hlc, region="a", node="b", accepted_at_ms=0, event=EVENT)
    assert decode_record(encode_record(record)).hlc == hlc


def test_seq_is_not_in_the_bytes_but_orders_the_record() -> None:
    assert "seq" not in record_dict(RECORD)
    assert RECORD.winner_key(42) == WinnerKey(RECORD.hlc, "eu", "n1", 42)


def _mutated(**changes: Any) -> bytes:
    """The canonical bytes of RECORD's dict with `changes` applied (None deletes a key)."""
    obj = record_dict(RECORD)
    for key, value in changes.items():
        if value is None:
            del obj[key]
        else:
            obj[key] = value
    return canonical_bytes(obj)


GOOD = encode_record(RECORD)

BAD_RECORDS: list[tuple[bytes, str]] = [
    (b"", "expected JSON"),
    (b"not json", "expected JSON"),
    (GOOD[:-1], "expected JSON"),
    (GOOD + b"\n", "canonical form"),
    (b" " + GOOD, "canonical form"),
    (json.dumps(record_dict(RECORD)).encode(), "canonical form"),
    (json.dumps(record_dict(RECORD), sort_keys=True, separators=(",", ":")).encode(), "canonical"),
    (GOOD.replace(b'"v":1}', b'"v":1.0}'), "record version 1"),
    (GOOD.replace(b'"node":"n1"', b'"node":"\\u006e1"'), "canonical form"),
    (GOOD.replace(b'"v":1}', b'"v":1,"v":1}'), "unique object keys"),
    (GOOD.replace(b'"v":1}', b'"v":NaN}'), "expected a JSON number"),
    (b"\xff" + GOOD, "UTF-8"),
    (GOOD.decode().encode("utf-16"), "UTF-8"),
    (b"[]", "JSON object"),
    (b"[" * 100_000, "nested"),
    (_mutated(v=2), "record version 1"),
    (_mutated(v=True), "record version 1"),
    (_mutated(v="1"), "record version 1"),
    (_mutated(v=None), "missing ['v']"),
    (_mutated(seq=1), "unexpected ['seq']"),
    (_mutated(hlc=123), "decimal string"),
    (_mutated(hlc="0123"), "decimal string"),
    (_mutated(hlc="-1"), "decimal string"),
    (_mutated(hlc="1e3"), "decimal string"),
    (_mutated(hlc=str(MAX_HLC + 1)), "hlc to be an integer in 0.."),
    (_mutated(region="EU"), "region to be 1-32"),
    (_mutated(region=""), "region to be 1-32"),
    (_mutated(node="n" * 33), "node to be 1-32"),
    (_mutated(node=1), "node to be 1-32"),
    (_mutated(accepted_at_ms=-1), "accepted_at_ms to be an integer"),
    (_mutated(accepted_at_ms=1.5), "accepted_at_ms to be an integer"),
    (_mutated(accepted_at_ms=True), "accepted_at_ms to be an integer"),
    (_mutated(event=[]), "event: event: expected a JSON object"),
    (_mutated(event={**EVENT.to_dict(), "signature": "x"}), "event: signature"),
    (_mutated(event={**EVENT.to_dict(), "extra": 1}), "unexpected field 'extra'"),
]


@pytest.mark.parametrize(("data", "message"), BAD_RECORDS)
def test_malformed_records_are_rejected(data: bytes, message: str) -> None:
    with pytest.raises(RecordDecodeError) as caught:
        decode_record(data)
    assert message in str(caught.value)


def test_the_mutation_helper_alone_changes_nothing() -> None:
    # The control for the table above: its failures come from the changes, not the helper.
    assert _mutated() == GOOD


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("hlc", -1),
        ("hlc", MAX_HLC + 1),
        ("hlc", True),
        ("accepted_at_ms", 2**53),
        ("region", "Eu"),
        ("node", "-n1"),
        ("event", EVENT.envelope()),
    ],
)
def test_records_cannot_be_built_out_of_range(field: str, value: Any) -> None:
    fields = {
        "hlc": RECORD.hlc,
        "region": "eu",
        "node": "n1",
        "accepted_at_ms": 0,
        "event": EVENT,
        field: value,
    }
    with pytest.raises(ValueError, match=f"expected {field}"):
        WalRecord(**fields)
