"""Where the full list of divergent records goes, and its JSON form.

Workflow payloads carry counts and a capped sample only; every divergent record is written to
region a's object store (a < b alphabetically):

    geo/divergence/<workflow-id>/parts/<a>-<b>/<region>/<node>/<lo:020d>-<hi:020d>.json
        what one exact diff found (written by the diff, before its counts reach the workflow)
    geo/divergence/<workflow-id>/<a>-<b>.json
        the pair's report: every stream compared, with all its divergent records
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.seq_range import SeqRange
from storage.geo.diff import Divergence, StreamRecord
from storage.geo.errors import GeoReportError
from storage.geo.streams import stream_parts
from storage.objectstore.base import ObjectStore
from storage.objectstore.errors import ObjectNotFound

REPORT_FORMAT = "geoledger.geo-divergence-report.v1"
PART_FORMAT = "geoledger.geo-divergence-part.v1"
JSON_CONTENT_TYPE = "application/json"


def pair_name(a: str, b: str) -> str:
    """`<a>-<b>` with the two region names in alphabetical order (the metric's `pair` label)."""
    first, second = sorted((a, b))
    return f"{first}-{second}"


def report_prefix(workflow_id: str) -> str:
    """The prefix under which every report and part of one workflow run is written."""
    return f"geo/divergence/{workflow_id}"


def report_key(workflow_id: str, pair: str) -> str:
    """The key of one workflow run's report of the region pair `pair`."""
    return f"{report_prefix(workflow_id)}/{pair}.json"


def part_key(workflow_id: str, pair: str, stream: str, ranges: Sequence[SeqRange]) -> str:
    """The key of the part holding what one exact diff of `ranges` of `stream` found."""
    region, node = stream_parts(stream)
    lo, hi = ranges[0].lo, ranges[-1].hi
    return f"{report_prefix(workflow_id)}/parts/{pair}/{region}/{node}/{lo:020d}-{hi:020d}.json"


def record_json(record: StreamRecord | None) -> dict[str, Any] | None:
    """The JSON form of one region's record, None when the region holds none."""
    if record is None:
        return None
    return {
        "tenant_id": record.tenant_id,
        "event_id": record.event_id,
        "hlc": record.hlc,
        "digest": record.digest.hex(),
    }


def divergence_json(stream: str, divergence: Divergence) -> dict[str, Any]:
    """The JSON form of one divergent record of `stream`."""
    return {
        "stream": stream,
        "seq": divergence.seq,
        "kind": divergence.kind.value,
        "in_a": record_json(divergence.in_a),
        "in_b": record_json(divergence.in_b),
    }


async def write_part(
    store: ObjectStore, key: str, stream: str, divergences: Sequence[Divergence]
) -> None:
    """Write the part holding `divergences` of `stream` under `key`, replacing any there."""
    document = {
        "format": PART_FORMAT,
        "stream": stream,
        "divergences": [divergence_json(stream, d) for d in divergences],
    }
    await store.put(key, _encode(document), content_type=JSON_CONTENT_TYPE)


async def read_part(store: ObjectStore, key: str, stream: str) -> list[dict[str, Any]]:
    """The divergences a part of `stream` holds. Raises GeoReportError when it is missing or is
    not a part of that stream."""
    try:
        raw = await store.get(key)
    except ObjectNotFound as exc:
        raise GeoReportError(f"read part {key}: expected the object, got none ({exc})") from exc
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise GeoReportError(f"read part {key}: expected JSON, got {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != PART_FORMAT:
        raise GeoReportError(f"read part {key}: expected format {PART_FORMAT!r}")
    if document.get("stream") != stream or not isinstance(document.get("divergences"), list):
        raise GeoReportError(
            f"read part {key}: expected divergences of stream {stream!r}, "
            f"got stream {document.get('stream')!r}"
        )
    divergences: list[dict[str, Any]] = document["divergences"]
    return divergences


@dataclass(frozen=True, slots=True)
class StreamSection:
    """What the check found for one stream of a pair; its divergent records are in `part_keys`."""

    stream: str
    upto: int
    records_a: int
    records_b: int
    differing_keys: int
    truncated: bool
    part_keys: tuple[str, ...] = field(default=())


async def write_report(
    store: ObjectStore,
    key: str,
    *,
    workflow_id: str,
    a: str,
    b: str,
    checked_at: str,
    streams: Sequence[StreamSection],
) -> int:
    """Merge the parts of every stream into the pair's report at `key`; return its size in bytes.

    Raises GeoReportError as `read_part` does; object-store errors propagate.
    """
    sections = []
    for section in streams:
        divergences: list[dict[str, Any]] = []
        for part in section.part_keys:
            divergences.extend(await read_part(store, part, section.stream))
        sections.append(
            {
                "stream": section.stream,
                "upto": section.upto,
                "records_a": section.records_a,
                "records_b": section.records_b,
                "differing_keys": section.differing_keys,
                "truncated": section.truncated,
                "divergences": sorted(divergences, key=lambda d: (d["seq"], d["kind"])),
            }
        )
    document = {
        "format": REPORT_FORMAT,
        "workflow_id": workflow_id,
        "pair": pair_name(a, b),
        "a": a,
        "b": b,
        "checked_at": checked_at,
        "differing_keys": sum(section.differing_keys for section in streams),
        "streams": sections,
    }
    data = _encode(document)
    await store.put(key, data, content_type=JSON_CONTENT_TYPE)
    return len(data)


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
