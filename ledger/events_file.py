"""Newline-delimited event files: signing a file of unsigned envelopes line by line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import canonical_bytes
from ledger.envelope import parse_envelope
from ledger.errors import EventSchemaError
from ledger.keys import key_id_for
from ledger.signing import sign_event


def sign_lines(lines: Iterable[str], private_key: Ed25519PrivateKey) -> Iterator[str]:
    """Yield one canonical signed event (RFC 8785 JSON) per non-blank input line.

    Raises EventSchemaError naming the line number for a line that is not a valid envelope.
    """
    key_id = key_id_for(private_key.public_key())
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EventSchemaError("event", f"line {number}: not JSON: {exc}") from None
        if isinstance(obj, dict):
            obj.setdefault("key_id", key_id)
        try:
            envelope = parse_envelope(obj)
        except EventSchemaError as exc:
            raise EventSchemaError(exc.field, f"line {number}: {exc.detail}") from None
        yield canonical_bytes(sign_event(private_key, envelope).to_dict()).decode("utf-8")


def batches(lines: Iterable[str], max_events: int, max_bytes: int) -> Iterator[list[str]]:
    """Group non-blank lines (each one JSON event) into request-sized batches.

    Requires max_events >= 1. A batch never holds more than `max_events` events nor, counting the
    `{"events":[...]}` wrapper, more than `max_bytes` bytes; a single event too large for any batch
    raises EventSchemaError naming its line.
    """
    wrapper = len(b'{"events":[]}')
    batch: list[str] = []
    size = wrapper
    for number, line in enumerate(lines, start=1):
        event = line.strip()
        if not event:
            continue
        cost = len(event.encode("utf-8")) + (1 if batch else 0)
        if wrapper + len(event.encode("utf-8")) > max_bytes:
            raise EventSchemaError("event", f"line {number}: event alone exceeds {max_bytes} bytes")
        if batch and (len(batch) >= max_events or size + cost > max_bytes):
            yield batch
            batch, size, cost = [], wrapper, len(event.encode("utf-8"))
        batch.append(event)
        size += cost
    if batch:
        yield batch
