"""Differential properties: the msgspec parsers and the oracle answer every input alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies
from tests.fuzz.differential import (
    check_batch,
    check_event_object,
    check_frames,
    check_manifest,
    check_record,
)


@given(strategies.event_objects() | strategies.json_values)
def test_event_objects(obj: object) -> None:
    check_event_object(obj)


@given(strategies.batch_bodies())
def test_request_bodies(body: bytes) -> None:
    check_batch(body)


@given(st.binary(max_size=200))
def test_request_bodies_of_random_bytes(body: bytes) -> None:
    check_batch(body)


@given(strategies.record_bytes())
def test_wal_records(data: bytes) -> None:
    check_record(data)


@given(strategies.segment_bytes())
def test_segments(data: bytes) -> None:
    check_frames(data)


@given(strategies.manifest_documents())
def test_manifests(data: bytes) -> None:
    check_manifest(data)
