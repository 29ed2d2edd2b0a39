"""Signature checks give the same answers whether a batch is verified in the event loop (a few
events) or in the worker processes (more than INLINE_MAX). tests/unit/test_cpu_pool.py covers
the workers themselves (dying, outliving their owner)."""

from __future__ import annotations

from typing import Any

import pytest

from api.ingest.batch import BatchItem, parse_batch
from api.ingest.verify import INLINE_MAX, KnownKey, SignatureVerifier
from ledger.keys import public_key_bytes
from tests.support.tenants import body, tenant

ACME = tenant("acme")
GLOBEX = tenant("globex")


class Keys:
    """The two tenants' keys, as the key registry would resolve them."""

    def __init__(self) -> None:
        self._keys = {
            who.key_id: KnownKey(
                who.key_id, who.tenant_id, public_key_bytes(who.private_key.public_key()), False
            )
            for who in (ACME, GLOBEX)
        }

    async def key(self, key_id: str) -> KnownKey | None:
        return self._keys.get(key_id)

    async def tenant_exists(self, tenant_id: str) -> bool:
        return tenant_id in {"acme", "globex"}


def _events(count: int) -> tuple[list[dict[str, Any]], dict[int, str | None]]:
    """`count` events, every fifth tampered after signing and every seventh under another
    tenant's key, with the reason each one must get (None: valid)."""
    events: list[dict[str, Any]] = []
    expected: dict[int, str | None] = {}
    for i in range(count):
        who = GLOBEX if i % 2 else ACME
        event = who.event(f"evt-{i}", {"i": i})
        expected[i] = None
        if i % 5 == 4:
            event["payload"] = {"i": -i}
            expected[i] = "signature.invalid"
        elif i % 7 == 6:
            event = ACME.event(f"evt-{i}", key_id=GLOBEX.key_id)
            expected[i] = "key.tenant_mismatch"
        events.append(event)
    return events, expected


def _reasons(items: list[BatchItem]) -> dict[int, str | None]:
    return {item.index: item.rejection.reason if item.rejection else None for item in items}


@pytest.mark.parametrize("count", [INLINE_MAX, INLINE_MAX + 1, 64])
async def test_answers_are_the_same_in_the_loop_and_in_workers(count: int) -> None:
    events, expected = _events(count)
    verifier = SignatureVerifier(Keys(), processes=2)
    try:
        checked = await verifier.check(parse_batch(body(events)))
    finally:
        verifier.close()
    assert _reasons(checked) == expected
    assert sum(reason == "signature.invalid" for reason in expected.values()) >= 1
