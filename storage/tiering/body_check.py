"""The check every body read from a lower tier (or about to move to one) passes before it is used:
it must be the canonical signed event whose content digest the key row holds (I5).

A warm blob's zstd frame carries a checksum and a cold blob is hashed before decoding, but neither
covers everything: a flipped codec header byte turns a frame into a "raw" body, and a pack could
hold another record's blob at the location a row names. The row's digest is what the dedup
decision was made on, so a body that matches it is the body that was applied.
"""

from __future__ import annotations

import hmac
import json

from ledger.errors import EventSchemaError
from ledger.event_wire import parse_signed_event
from ledger.signing import content_digest
from storage.tiering.errors import BodyIntegrityError


def check_body(tenant_id: str, event_id: str, body: bytes, digest: bytes) -> None:
    """Raise BodyIntegrityError unless `body` is the canonical signed event of key
    (`tenant_id`, `event_id`) whose content digest is `digest`."""
    try:
        event = parse_signed_event(json.loads(body))
    except (UnicodeDecodeError, json.JSONDecodeError, EventSchemaError) as exc:
        raise BodyIntegrityError(
            tenant_id, event_id, f"expected a signed event, got {exc}"
        ) from None
    if (event.tenant_id, event.event_id) != (tenant_id, event_id):
        raise BodyIntegrityError(
            tenant_id, event_id, f"expected that key, got {event.tenant_id}/{event.event_id}"
        )
    if event.canonical_event() != body:
        raise BodyIntegrityError(tenant_id, event_id, "expected canonical bytes (RFC 8785)")
    got = content_digest(event)
    if not hmac.compare_digest(got, digest):
        raise BodyIntegrityError(
            tenant_id, event_id, f"expected content digest {digest.hex()}, got {got.hex()}"
        )
