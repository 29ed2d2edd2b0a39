"""The ingest API on real Postgres and a real WAL: results per event, reads, and every kind of bad
input answered without writing anything (I1, I2)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api.ingest.app import create_app
from api.ingest.serve import open_node
from ledger.config import Settings
from storage.wal import iter_records, stream_directory
from tests.conftest import RunningStack
from tests.support.isolated import isolated_settings
from tests.support.tenants import body, register, signed_read, tenant

ACME = tenant("acme")
GLOBEX = tenant("globex")
MALLORY = tenant("mallory")  # never registered


@pytest.fixture(scope="module")
async def settings(
    running_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    settings = await isolated_settings(running_stack, tmp_path_factory.mktemp("ingest"), "ingest")
    await register(settings, ACME, GLOBEX)
    return settings


@pytest.fixture(scope="module")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(lambda: open_node(settings, "us", "n1"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://node") as http,
    ):
        yield http


async def post(client: httpx.AsyncClient, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await client.post("/v1/events", content=body(events))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


async def test_accepted_duplicate_conflict_and_read_back(client: httpx.AsyncClient) -> None:
    first = ACME.event("order-1", {"total": 10})
    results = await post(client, [first, GLOBEX.event("order-1", {"total": 99})])
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert results[0]["seq"] is not None

    again = await post(client, [first, ACME.event("order-1", {"total": 11})][:1])
    assert again[0]["status"] == "duplicate"
    rival = await post(client, [ACME.event("order-1", {"total": 11})])
    assert rival[0]["status"] == "conflict"

    read = await signed_read(client, "acme", "order-1")
    assert read.status_code == 200
    stored = read.json()
    assert stored["event"] == first
    assert stored["stream"] == "us/n1"
    assert stored["seq"] == results[0]["seq"]
    assert (await signed_read(client, "acme", "nope")).status_code == 404


async def _wal_count(settings: Settings) -> int:
    directory = stream_directory(Path(settings.region("us").wal_dir), "us/n1")
    return sum(1 for _ in iter_records(directory))


async def _row_count(settings: Settings) -> int:
    total = 0
    for dsn in settings.region("us").shard_dsns:
        conn = await asyncpg.connect(dsn)
        try:
            total += await conn.fetchval(
                "SELECT (SELECT count(*) FROM dedup_events) + (SELECT count(*) FROM dedup_copies)"
            )
        finally:
            await conn.close()
    return total


def _tamper(field: str, value: Any) -> Callable[[], dict[str, Any]]:
    def make() -> dict[str, Any]:
        event = ACME.event("bad-1")
        event[field] = value
        return event

    return make


def _resigned(**fields: Any) -> Callable[[], dict[str, Any]]:
    return lambda: ACME.event("bad-2", **fields)


# Per-event problems: answered 200 with `rejected` and a machine-readable reason.
PER_EVENT_CASES = [
    ("bad signature", _tamper("payload", {"n": 2}), "signature.invalid"),
    (
        "flipped signature",
        lambda: {**ACME.event("bad-4"), "signature": "A" * 86},
        "signature.invalid",
    ),
    (
        "padded signature",
        lambda: {**ACME.event("bad-5"), "signature": ACME.event("bad-5")["signature"] + "=="},
        "schema.signature",
    ),
    ("event id with a space", _tamper("event_id", "has space"), "schema.event_id"),
    ("event id too long", _tamper("event_id", "e" * 129), "schema.event_id"),
    ("occurred_at not RFC 3339", _tamper("occurred_at", "yesterday"), "schema.occurred_at"),
    ("type too long", _tamper("type", "t" * 129), "schema.type"),
    ("payload not an object", _tamper("payload", [1, 2]), "schema.payload"),
    ("payload over 256 KiB", _tamper("payload", {"blob": "x" * 262_144}), "schema.payload"),
    ("unknown field", _tamper("extra", 1), "schema.event"),
    (
        "missing signature",
        lambda: {k: v for k, v in ACME.event("bad-6").items() if k != "signature"},
        "schema.signature",
    ),
    ("unknown tenant", lambda: MALLORY.event("bad-7"), "tenant.unknown"),
    ("unknown key of a known tenant", _resigned(key_id="ed25519:ffffffffffffffff"), "key.unknown"),
    (
        "another tenant's key",
        lambda: tenant("acme").event("bad-8", key_id=GLOBEX.key_id),
        "key.tenant_mismatch",
    ),
]


@pytest.mark.parametrize(
    "make, reason", [(m, r) for _, m, r in PER_EVENT_CASES], ids=[n for n, _, _ in PER_EVENT_CASES]
)
async def test_bad_events_are_rejected_and_write_nothing(
    client: httpx.AsyncClient, settings: Settings, make: Callable[[], dict[str, Any]], reason: str
) -> None:
    wal_before, rows_before = await _wal_count(settings), await _row_count(settings)
    results = await post(client, [make()])
    assert results[0]["status"] == "rejected"
    assert results[0]["reason"] == reason
    assert results[0]["detail"]
    assert (await _wal_count(settings), await _row_count(settings)) == (wal_before, rows_before)


# Whole-batch problems: a 4xx naming the problem, and nothing written.
BATCH_CASES = [
    ("malformed JSON", b'{"events": [', 400, "malformed_json"),
    ("not an object", b"[1, 2]", 422, "bad_batch"),
    ("empty batch", b'{"events": []}', 422, "bad_batch"),
    ("extra top-level field", b'{"events": [{}], "x": 1}', 422, "bad_batch"),
    ("too many events", json.dumps({"events": [{}] * 1001}).encode(), 413, "too_many_events"),
    (
        "body over 4 MiB",
        b'{"events": ["' + b"x" * (4 * 1024 * 1024) + b'"]}',
        413,
        "body_too_large",
    ),
    (
        "one key twice",
        body([ACME.event("dup-1"), ACME.event("dup-1", {"n": 2})]),
        422,
        "duplicate_event_id",
    ),
]


@pytest.mark.parametrize(
    "raw, status, code", [(b, s, c) for _, b, s, c in BATCH_CASES], ids=[n for n, *_ in BATCH_CASES]
)
async def test_bad_batches_are_refused_and_write_nothing(
    client: httpx.AsyncClient, settings: Settings, raw: bytes, status: int, code: str
) -> None:
    wal_before, rows_before = await _wal_count(settings), await _row_count(settings)
    answer = await client.post("/v1/events", content=raw)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert (await _wal_count(settings), await _row_count(settings)) == (wal_before, rows_before)


async def test_a_revoked_key_is_rejected(client: httpx.AsyncClient, settings: Settings) -> None:
    from storage.keys import KeyRegistry

    initech = tenant("initech")
    await register(settings, initech)
    assert (await post(client, [initech.event("before")]))[0]["status"] == "accepted"
    registry = await KeyRegistry.open(settings)
    try:
        await registry.revoke(initech.key_id)
    finally:
        await registry.close()
    # The node's key cache holds entries for a short TTL; a revocation takes effect within it.
    import asyncio

    for _ in range(50):
        results = await post(client, [initech.event("after")])
        if results[0]["status"] == "rejected":
            break
        await asyncio.sleep(0.2)
    assert results[0]["reason"] == "key.revoked"


async def test_good_events_next_to_bad_ones_are_accepted(client: httpx.AsyncClient) -> None:
    results = await post(client, [ACME.event("mix-1"), MALLORY.event("mix-2"), ACME.event("mix-3")])
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert [r["index"] for r in results] == [0, 1, 2]


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = (await client.get("/healthz")).json()
    assert health["ok"] and health["stream"] == "us/n1" and health["wal_last_seq"] >= 1
    text = (await client.get("/metrics")).text
    for name in (
        "ingest_events_total",
        "ingest_ack_latency_seconds_bucket",
        "wal_fsync_seconds_bucket",
        "ingest_batch_events_bucket",
        "ingest_verify_seconds_bucket",
    ):
        assert name in text
