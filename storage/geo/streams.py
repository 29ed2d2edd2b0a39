"""Stream names as the geo-divergence check reads them from the dedup tables."""

from __future__ import annotations

from ledger.errors import GeoInputError
from ledger.stream_id import StreamId


def stream_parts(stream: str) -> tuple[str, str]:
    """`(region, node)` of a stream named `<region>/<node>`; raises GeoInputError."""
    try:
        parsed = StreamId.parse(stream)
    except ValueError as exc:
        raise GeoInputError(str(exc)) from None
    return parsed.region, parsed.node
