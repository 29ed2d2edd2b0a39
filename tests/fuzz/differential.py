"""One input, two parsers, one answer: the checks every fuzz test and the corpus replay run.

Each `check_*` feeds the same input to the oracle (tests/fuzz/oracle, the parsers as they were
before msgspec) and to the product, and raises AssertionError unless both accept with identical
results (every field, every canonical byte) or both reject with the same reason code and message.
Any other exception escapes: a crash is a finding too.

One deliberate difference: a request body nested as deep as the interpreter's recursion limit made
the oracle raise RecursionError (a 500); the product refuses it as `malformed_json`. And one band
where no answer is right: JSON nested within `NEAR_RECURSION_LIMIT` of the interpreter's limit
(1000) parses or fails depending on how deep the caller's stack already is, in the oracle as in
the product (whose general path runs a frame or two deeper). There both sides must still answer
(no crash), but they may differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.ingest.batch import parse_batch
from api.ingest.errors import BatchRejected
from ledger.envelope import parse_envelope, parse_signed_event
from ledger.errors import EventSchemaError, ManifestError, RecordDecodeError
from ledger.manifest import manifest_bytes, parse_manifest
from ledger.record import decode_record
from storage.wal import WalError
from storage.wal.framing import encode_frames, find_valid_frame, scan_frames
from storage.wal.segment import parse_sealed_segment
from tests.fuzz.oracle import batch as oracle_batch
from tests.fuzz.oracle import envelope as oracle_envelope
from tests.fuzz.oracle import record as oracle_record

Outcome = tuple[Any, ...]
NEAR_RECURSION_LIMIT = 900
"""Containers nested at least this deep are in the stack-dependent band (see above)."""


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of JSON arrays and objects in `data`, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _agree(new: Outcome, old: Outcome, data: bytes, what: str) -> None:
    if new != old and nesting_depth(data) < NEAR_RECURSION_LIMIT:
        raise AssertionError(f"{what} {data!r:.300}: product {new!r:.600} != oracle {old!r:.600}")


def event_outcome(event: Any) -> Outcome | None:
    """Everything downstream reads of an accepted event; repr tells 1 from 1.0 and True."""
    if event is None:
        return None
    forms: tuple[bytes, ...] = (event.canonical_envelope(), event.canonical_payload())
    if hasattr(event, "signature"):
        forms += (event.canonical_event(), event.signature_bytes())
    return (type(event).__name__, repr(event.model_dump()), *forms)


def _parsed(parse: Any, obj: object) -> Outcome:
    try:
        return ("ok", event_outcome(parse(obj)))
    except EventSchemaError as exc:
        return ("rejected", exc.reason, exc.detail)


def check_event_object(obj: object) -> Outcome:
    """A decoded JSON value as a signed event and as an envelope."""
    new = (_parsed(parse_signed_event, obj), _parsed(parse_envelope, obj))
    old = (
        _parsed(oracle_envelope.parse_signed_event, obj),
        _parsed(oracle_envelope.parse_envelope, obj),
    )
    assert new == old, f"event {obj!r:.300}: product {new!r:.600} != oracle {old!r:.600}"
    return new


def _batch(parse: Any, body: bytes, *, oracle: bool) -> Outcome:
    try:
        items = parse(body)
    except BatchRejected as exc:
        message = exc.message
        if exc.code == "malformed_json" and "nested too deeply" in message:
            message = "(nested too deeply)"
        return ("refused", exc.status, exc.code, message)
    except RecursionError:
        if not oracle:
            raise
        return ("refused", 400, "malformed_json", "(nested too deeply)")
    return (
        "items",
        tuple(
            (
                item.index,
                item.tenant_id,
                item.event_id,
                item.rejection and (item.rejection.reason, item.rejection.detail),
                event_outcome(item.event),
            )
            for item in items
        ),
    )


def check_batch(body: bytes) -> Outcome:
    """A `POST /v1/events` body."""
    new = _batch(parse_batch, body, oracle=False)
    _agree(new, _batch(oracle_batch.parse_batch, body, oracle=True), body, "body")
    return new


def _record(decode: Any, data: bytes) -> Outcome:
    try:
        record = decode(data)
    except RecordDecodeError as exc:
        return ("error", str(exc))
    return (
        "ok",
        record.hlc,
        record.region,
        record.node,
        record.accepted_at_ms,
        event_outcome(record.event),
    )


def check_record(data: bytes) -> Outcome:
    """WAL record bytes."""
    new = _record(decode_record, data)
    _agree(new, _record(oracle_record.decode_record, data), data, "record")
    return new


def check_manifest(data: bytes) -> None:
    """Manifest bytes (its parser is unchanged: no oracle): accepted only in canonical form."""
    try:
        manifest = parse_manifest(data)
    except ManifestError:
        return
    assert manifest_bytes(manifest) == data


def check_frames(data: bytes) -> None:
    """Segment bytes as frames: the valid prefix re-encodes to itself, the scan for the next
    valid frame ends, a sealed-segment parse agrees, and each record decodes identically."""
    frames, bad = scan_frames(data)
    end = bad.offset if bad is not None else len(data)
    assert encode_frames([frame.record for frame in frames]) == data[:end]
    if bad is not None:
        found = find_valid_frame(data, bad.offset + 1)
        assert found is None or bad.offset < found < len(data)
    try:
        records = parse_sealed_segment(Path("fuzz.wal"), data)
    except WalError:
        assert bad is not None or not frames
    else:
        assert bad is None and records == [frame.record for frame in frames]
    for frame in frames:
        check_record(frame.record)


CHECKS = {
    "batch": check_batch,
    "record": check_record,
    "manifest": check_manifest,
    "frames": check_frames,
}
"""Corpus folder name -> the check its files are replayed through."""
