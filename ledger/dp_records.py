"""The one item each event contributes to an export's input vector, read from its signed body.

counts_by_type: the envelope's `type`; counts_by_day: the UTC day (ISO date) of `occurred_at`
(RFC 3339, the client's clock as signed); sum: the payload field's number rounded to the nearest
integer (OpenDP's integer mechanisms need integers), or nothing when the event has no finite
number there (a bool is no number). Which events have an item depends on that event alone, so
the privacy unit stays one event.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from ledger.dp_query import DpQuery, DpQueryKind


def event_item(query: DpQuery, body: bytes) -> str | int | None:
    """What the event whose canonical signed JSON is `body` contributes to `query`, or None."""
    event = json.loads(body)
    if query.kind is DpQueryKind.COUNTS_BY_TYPE:
        return str(event["type"])
    if query.kind is DpQueryKind.COUNTS_BY_DAY:
        try:
            return utc_day(str(event["occurred_at"]))
        except ValueError:  # a leap second (":60") has no datetime: it counts in no day
            return None
    assert query.bounds is not None  # parse_query: a sum has its bounds
    return _number(event.get("payload"), query.bounds.field)


def utc_day(occurred_at: str) -> str:
    """The UTC date of an RFC 3339 date-time (ledger/envelope.py checked its form at ingest)."""
    moment = datetime.fromisoformat(occurred_at.replace("z", "Z").replace("t", "T"))
    return moment.astimezone(UTC).date().isoformat()


def _number(payload: Any, field: str) -> int | None:
    value = payload.get(field) if isinstance(payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return round(value)
