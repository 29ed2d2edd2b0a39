"""The shallow per-tenant count of a batch, which the node charges before parsing it: it must
count every event a tenant sends, and say None (charge the parsed items instead) whenever it
cannot read the body, so no body shape slips past the tenant's bucket."""

from __future__ import annotations

import json

from api.ingest.batch import MAX_EVENTS
from api.ingest.batch_tenants import events_per_tenant


def _body(events: list[object]) -> bytes:
    return json.dumps({"events": events}).encode()


def test_counts_each_tenants_events_whatever_else_they_hold() -> None:
    events: list[object] = [
        {"tenant_id": "acme", "event_id": "1", "payload": {"deep": [1, 2, {"x": None}]}},
        {"tenant_id": "acme", "event_id": "2", "unknown_field": True},
        {"tenant_id": "globex"},
        {"tenant_id": 7},  # not a string: rejected per event by parse_batch, charged to nobody
        {"event_id": "no tenant"},
    ]
    assert events_per_tenant(_body(events)) == {"acme": 2, "globex": 1}


def test_bodies_it_cannot_read_are_left_to_the_parsed_items() -> None:
    assert events_per_tenant(b"not json") is None
    assert events_per_tenant(_body([{"tenant_id": "acme"}, "not an object"])) is None
    assert events_per_tenant(b'{"items": []}') is None
    # Over the batch limit: parse_batch refuses it (413) before anything is charged.
    assert events_per_tenant(_body([{"tenant_id": "acme"}] * (MAX_EVENTS + 1))) is None
