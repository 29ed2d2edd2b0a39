"""How many events of each tenant a `POST /v1/events` body holds, read without parsing the
events themselves: what the node charges to its tenants' buckets before it spends anything on
the batch. A batch refused for its tenant's rate then costs the node one shallow decode
(~60 µs for 100 events) instead of the full parse (~2 ms), so a flood cannot spend the node's
CPU on batches it refuses.
"""

from __future__ import annotations

from collections import Counter

import msgspec

from api.ingest.batch import MAX_BODY_BYTES, MAX_EVENTS


class _TenantOnly(msgspec.Struct):
    # Any JSON value: a tenant id that is not a string is parse_batch's to reject, per event.
    tenant_id: object = None


class _Batch(msgspec.Struct):
    events: list[_TenantOnly]


_DECODER = msgspec.json.Decoder(_Batch)


def events_per_tenant(body: bytes) -> Counter[str] | None:
    """Each string `tenant_id` of the body's events, counted. None when the body is over the
    batch limits or not a JSON object whose `events` is an array of objects: parse_batch says
    what is wrong with it, and its items are charged instead."""
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        events = _DECODER.decode(body).events
    except (msgspec.DecodeError, RecursionError):
        return None
    if len(events) > MAX_EVENTS:
        return None
    return Counter(e.tenant_id for e in events if isinstance(e.tenant_id, str))
