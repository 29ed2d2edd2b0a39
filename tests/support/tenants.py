"""Tenant keys and signed events for tests."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.canonical import canonical_bytes
from ledger.config import Settings
from ledger.envelope import EventEnvelope
from ledger.keys import key_id_for, private_key_from_seed
from ledger.read_signing import sign_read
from ledger.signing import sign_event
from storage.keys import KeyRegistry


@dataclass(frozen=True)
class TestTenant:
    tenant_id: str
    private_key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_for(self.private_key.public_key())

    def event(
        self, event_id: str, payload: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A signed event as a JSON-ready dict; `fields` override envelope fields before signing."""
        envelope = {
            "tenant_id": self.tenant_id,
            "event_id": event_id,
            "key_id": self.key_id,
            "occurred_at": "2026-11-25T12:00:00Z",
            "type": "order.created",
            "payload": payload if payload is not None else {"n": 1},
            **fields,
        }
        signed = sign_event(self.private_key, EventEnvelope.model_validate(envelope))
        return signed.to_dict()

    def read_headers(self, path: str, ts: int | None = None) -> dict[str, str]:
        """The `Authorization` header of a GET of `path` (as sent) signed with this tenant's key,
        at `ts` (default now)."""
        when = int(time.time()) if ts is None else ts
        return {"authorization": sign_read(self.private_key, self.key_id, "GET", path, b"", when)}

    def line(self, event_id: str, payload: dict[str, Any] | None = None) -> str:
        return canonical_bytes(self.event(event_id, payload)).decode()


def tenant(tenant_id: str) -> TestTenant:
    seed = hashlib.sha256(f"geoledger-test-tenant-{tenant_id}".encode()).digest()
    return TestTenant(tenant_id, private_key_from_seed(seed))


async def register(settings: Settings, *tenants: TestTenant) -> None:
    """Register each tenant's public key in every region."""
    registry = await KeyRegistry.open(settings)
    try:
        for each in tenants:
            await registry.create(each.tenant_id, each.private_key.public_key())
    finally:
        await registry.close()


def body(events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"events": events}).encode()


async def signed_read(http: httpx.AsyncClient, tenant_id: str, event_id: str) -> httpx.Response:
    """`GET /v1/events/<tenant>/<id>` signed with the test key of `tenant_id` (`tenant`)."""
    path = f"/v1/events/{quote(tenant_id, safe='')}/{quote(event_id, safe='')}"
    return await http.get(path, headers=tenant(tenant_id).read_headers(path))
