"""Writes the seed files of tests/fuzz/corpus: one valid input per target and the corners where
JSON parsers disagree. Rerun after changing a seed; found cases are added beside them by hand.

    .venv/bin/python -m tests.fuzz.seed_corpus
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ledger.envelope import EventEnvelope
from ledger.keys import private_key_from_seed
from ledger.manifest import ManifestFields, manifest_bytes, sign_manifest
from ledger.record import WalRecord, encode_record
from ledger.signing import sign_event
from storage.wal.framing import encode_frames

CORPUS = Path(__file__).parent / "corpus"
KEY = private_key_from_seed(bytes(range(32)))
EVENT = sign_event(
    KEY,
    EventEnvelope(
        tenant_id="acme",
        event_id="evt-1",
        key_id="k1",
        occurred_at="2025-01-31T23:59:59.5+01:00",
        type="order.created",
        payload={"qty": 2.0, "price": 19.99, "note": "line\nbreak \u2028 \U0001f600", "z": [None]},
    ),
)
GOOD = EVENT.to_dict()


def body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def spliced(field: str, raw: bytes) -> bytes:
    """A one-event body whose `field` value is the literal JSON text `raw`."""
    marker = "\u0001MARK\u0001"
    return body({**GOOD, field: marker}).replace(json.dumps(marker).encode(), raw)


def payload(raw: bytes) -> bytes:
    return spliced("payload", b'{"v":' + raw + b"}")


BATCHES = {
    "valid_two_events": body(GOOD, {**GOOD, "event_id": "evt-2"}),
    "valid_whitespace": json.dumps({"events": [GOOD]}, indent="\t").encode() + b"\r\n",
    "nan_in_payload": payload(b"NaN"),
    "infinity_in_payload": payload(b"-Infinity"),
    "number_overflowing_to_infinity": payload(b"1e400"),
    "huge_int": payload(b"123456789012345678901234567890"),
    "unsafe_int": payload(b"9007199254740993"),
    "largest_safe_int": payload(b"-9007199254740991"),
    "private_use_member_name": payload(b'{"\ue000":1,"\uffff":2,"\ud83d\ude00":3}'),
    "float_after_plain_values": payload(b'[1,"a",{"b":[true,null]},2.5]'),
    "nested_9_levels": payload(b'{"a":' * 9 + b"1" + b"}" * 9),
    "negative_zero_int": payload(b"-0"),
    "negative_zero_float": payload(b"-0.0"),
    "lone_surrogate_escape_in_type": spliced("type", b'"a\\ud800"'),
    "lone_surrogate_escape_in_payload_key": spliced("payload", b'{"\\udc00":1}'),
    "lone_surrogate_escape_as_member_name": body(GOOD).replace(b'"type"', b'"\\ud800":1,"type"'),
    "lone_surrogate_raw_bytes": spliced("type", b'"a\xed\xa0\x80"'),
    "overlong_utf8_slash": spliced("type", b'"a\xc0\xafb"'),
    "nul_raw_in_string": spliced("type", b'"a\x00b"'),
    "nul_escaped_in_type": spliced("type", b'"a\\u0000b"'),
    "nul_escaped_in_payload": payload(b'"\\u0000"'),
    "utf8_bom": b"\xef\xbb\xbf" + body(GOOD),
    "utf16_body": body(GOOD).decode().encode("utf-16"),
    "form_feed_whitespace": b"\x0c" + body(GOOD),
    "trailing_garbage": body(GOOD) + b"x",
    "deep_nesting_400": payload(b"[" * 400 + b"]" * 400),
    "deep_nesting_3000": payload(b"[" * 3000 + b"]" * 3000),
    "duplicate_member_in_event": body(GOOD).replace(b'"type"', b'"type":5,"type"'),
    "duplicate_member_bad_then_good_tenant": body(GOOD).replace(
        b'"tenant_id"', b'"tenant_id":"Bad ID","tenant_id"'
    ),
    "duplicate_events_member": body(GOOD)[:-1] + b',"events":[]}',
    "duplicate_event_id": body(GOOD, GOOD),
    "empty_events": b'{"events":[]}',
    "too_many_events": body(*[{} for _ in range(1001)]),
    "not_an_object": b"[1]",
    "extra_top_level_member": body(GOOD)[:-1] + b',"x":1}',
    "extra_event_member": body({**GOOD, "priority": "high"}),
    "signature_with_pad_bits": body({**GOOD, "signature": GOOD["signature"][:-1] + "B"}),
    "signature_padded": body({**GOOD, "signature": GOOD["signature"] + "=="}),
    "tenant_with_trailing_newline": body({**GOOD, "tenant_id": "acme\n"}),
    "february_30": body({**GOOD, "occurred_at": "2025-02-30T00:00:00Z"}),
    "leap_second": body({**GOOD, "occurred_at": "2016-12-31T23:59:60Z"}),
    "year_zero": body({**GOOD, "occurred_at": "0000-01-01T00:00:00Z"}),
    "year_one": body({**GOOD, "occurred_at": "0001-01-01T00:00:00Z"}),
    "february_29_leap_year": body({**GOOD, "occurred_at": "2024-02-29T00:00:00Z"}),
    "february_29_common_year": body({**GOOD, "occurred_at": "2023-02-29T00:00:00Z"}),
    "hour_24": body({**GOOD, "occurred_at": "2023-02-01T24:00:00Z"}),
    "offset_minute_60": body({**GOOD, "occurred_at": "2023-02-01T00:00:00+00:60"}),
    "type_129_chars": body({**GOOD, "type": "x" * 129}),
    "type_astral_128": body({**GOOD, "type": "\U0001f600" * 128}),
}

RECORD = encode_record(
    WalRecord(hlc=2**57 + 5, region="eu", node="n1", accepted_at_ms=1_738_367_999_125, event=EVENT)
)
RECORDS = {
    "valid": RECORD,
    "respaced": RECORD.replace(b'"v":1', b'"v": 1'),
    "duplicate_key": RECORD[:-1] + b',"v":1}',
    "version_as_float": RECORD.replace(b'"v":1}', b'"v":1.0}'),
    "version_as_true": RECORD.replace(b'"v":1}', b'"v":true}'),
    "hlc_leading_zero": RECORD.replace(b'"hlc":"', b'"hlc":"0'),
    "escaped_slash": RECORD.replace(b'"eu"', b'"e\\u0075"'),
    "nan": RECORD.replace(b'"qty":2', b'"qty":NaN'),
    "deep": RECORD.replace(b'"z":[null]', b'"z":' + b"[" * 3000 + b"]" * 3000),
    "truncated": RECORD[:-1],
}

MANIFEST = manifest_bytes(
    sign_manifest(
        KEY,
        ManifestFields(
            region="eu",
            node="n1",
            segment="eu/n1/segments/00000000000000000001-00000000000000000002.wal.zst",
            first_seq=1,
            last_seq=2,
            records=2,
            raw_bytes=100,
            raw_sha256="a" * 64,
            compressed_bytes=50,
            sha256="b" * 64,
            codec="zstd",
            sealed_at_ms=1,
            shipped_at_ms=2,
            prev_manifest_sha256="",
        ),
    )
)
MANIFESTS = {
    "valid": MANIFEST,
    "respaced": MANIFEST.replace(b",", b", ", 1),
    "duplicate_key": MANIFEST[:-1] + b',"v":1}',
}

SEGMENT = encode_frames([RECORD, RECORD.replace(b"evt-1", b"evt-2")])
FRAMES = {
    "valid": SEGMENT,
    "torn_tail": SEGMENT[:-3],
    "crc_flipped": SEGMENT[:5] + bytes([SEGMENT[5] ^ 1]) + SEGMENT[6:],
    "zero_tail": SEGMENT + b"\x00" * 16,
    "empty": b"",
}


def main() -> None:
    for target, files in (
        ("batch", BATCHES),
        ("record", RECORDS),
        ("manifest", MANIFESTS),
        ("frames", FRAMES),
    ):
        folder = CORPUS / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / f"seed_{name}").write_bytes(data)


if __name__ == "__main__":
    main()
