"""The fast canonical forms must be byte for byte the reference ones.

`canonical_bytes` writes plain values with the standard library's C encoder and everything else
with the `rfc8785` package (the reference); events assemble their canonical forms from parts and
keep them. Each is checked here against the reference on values chosen to hit every escaping,
ordering and number rule of RFC 8785 §3.2, plus a seeded random corpus.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import rfc8785

from ledger.canonical import _plain, canonical_bytes
from ledger.envelope import parse_signed_event
from ledger.errors import CanonicalFormError
from ledger.record import WalRecord, decode_record, encode_record, record_dict
from ledger.signing import content_digest, signing_input, verify
from tests.support.tenants import tenant

# Characters that exercise RFC 8785 §3.2.2.2 (escapes) and §3.2.3 (UTF-16 key order).
TRICKY = [
    *(chr(c) for c in range(0x20)),
    "\x7f", '"', "\\", "/", " ", "a", "Z", "é", "€", "\u2028", "\u2029", "中",
    "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0001f600",
]  # fmt: skip


def reference(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except (ValueError, RecursionError):
        return CanonicalFormError


def ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical_bytes(value)
    except CanonicalFormError:
        return CanonicalFormError


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, False, None], "": "x"},
        {c: c for c in TRICKY},  # every tricky key, and value, at once
        "".join(TRICKY),
        {"\ue000": 1, "\U0001f600": 2},  # code point and UTF-16 order disagree
        {"\u00e9": 1, "z": 2, "\u4e2d": 3},  # non-ASCII keys the fast path sorts itself
        [2**53 - 1, -(2**53 - 1), 0, -0],
        [2**53],  # beyond the safe range: an error
        {"n": 1.0, "m": 1e21, "k": -0.0, "j": 5e-324},  # ECMAScript number forms
        {"t": (1, 2)},
        "\ud800",  # lone surrogate: an error
        {"a": "\udfff"},
        {1: "non-string key"},
        {"x": float("nan")},
        [[[[[]]]], {}],
    ],
)
def test_matches_the_reference_implementation(value: Any) -> None:
    assert ours(value) == reference(value)


def test_plain_values_take_the_fast_path_and_others_do_not() -> None:
    assert _plain({"a": [1, "x", None, True, {"é": -5}]})
    assert not _plain({"a": 1.5})
    assert not _plain({"\U0001f600": 1})
    assert not _plain({"a": 2**53})
    assert not _plain((1,))


def _random_value(rng: random.Random, depth: int) -> Any:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return "".join(rng.choice(TRICKY) for _ in range(rng.randrange(6)))
    if kind == 1:
        return rng.choice(
            [0, 1, -1, 2**53 - 1, -(2**53) + 1, 2**53, rng.randrange(-(10**9), 10**9)]
        )
    if kind == 2:
        return rng.choice([0.5, -1.25, 1e-7, 1e21, 123456789.0, 0.1 + 0.2])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return "plain ascii"
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        "".join(rng.choice(TRICKY) for _ in range(rng.randrange(1, 4))): _random_value(
            rng, depth + 1
        )
        for _ in range(rng.randrange(5))
    }


def test_random_corpus_matches_the_reference_implementation() -> None:
    rng = random.Random(8785)
    fast = 0
    for _ in range(3000):
        value = _random_value(rng, 0)
        fast += _plain(value)
        assert ours(value) == reference(value), repr(value)
    assert fast > 500  # the corpus really exercises the fast path


def _event(**fields: Any) -> dict[str, Any]:
    return tenant("acme").event("evt-1", **fields)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"type": 'quote " back\\slash é \u2028 😀'},
        {"payload": {"f": 1.5, "\U0001f600": [None, "\x00"], "z": {"nested": True}}},
        {"payload": {}},
    ],
)
def test_assembled_event_forms_equal_whole_canonicalization(fields: dict[str, Any]) -> None:
    event = parse_signed_event(_event(**fields))
    envelope = rfc8785.dumps(event.envelope_dict())
    assert event.canonical_envelope() == envelope
    assert event.canonical_event() == rfc8785.dumps(event.to_dict())
    assert (
        signing_input(event)
        == signing_input(event.envelope())
        == b"geoledger.event.v1\x00" + envelope
    )
    assert content_digest(event) == content_digest(event.envelope())
    record = WalRecord(hlc=2**60 + 7, region="us", node="n1", accepted_at_ms=123, event=event)
    raw = encode_record(record)
    assert raw == rfc8785.dumps(record_dict(record))
    assert decode_record(raw) == record
    assert verify(tenant("acme").private_key.public_key(), event)


def test_a_copy_with_other_fields_does_not_keep_the_old_forms() -> None:
    event = parse_signed_event(_event())
    before = event.canonical_event()
    changed = event.model_copy(update={"payload": {"n": 2}})
    assert changed.canonical_payload() == b'{"n":2}'
    assert changed.canonical_event() != before
    assert changed.canonical_event() == rfc8785.dumps(changed.to_dict())
    assert not verify(tenant("acme").private_key.public_key(), changed)
