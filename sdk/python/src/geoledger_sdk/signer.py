"""`Signer`: builds and signs envelopes for one tenant with one key."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from geoledger_sdk.envelope import Envelope, SignedEvent
from geoledger_sdk.keys import key_id_for
from geoledger_sdk.read_signing import sign_read
from geoledger_sdk.signing import sign_event


def rfc3339_now() -> str:
    """The current UTC time as RFC 3339 with milliseconds, e.g. `2025-01-31T12:00:00.123Z`."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Signer:
    """Signs events of `tenant_id` with `private_key`; the key id is derived from the key."""

    def __init__(self, private_key: Ed25519PrivateKey, tenant_id: str) -> None:
        self.private_key = private_key
        self.tenant_id = tenant_id
        self.key_id = key_id_for(private_key.public_key())

    def sign(
        self,
        event_id: str,
        type: str,
        payload: Mapping[str, Any],
        occurred_at: str | None = None,
    ) -> SignedEvent:
        """Build, validate and sign one event. `occurred_at` defaults to now (UTC).

        Raises `InvalidEventError` naming the field when a rule is broken.
        """
        envelope = Envelope(
            tenant_id=self.tenant_id,
            event_id=event_id,
            key_id=self.key_id,
            occurred_at=occurred_at if occurred_at is not None else rfc3339_now(),
            type=type,
            payload=payload,
        )
        return sign_event(self.private_key, envelope)

    def authorize_read(
        self, method: str, path: str, body: bytes = b"", ts: int | None = None
    ) -> str:
        """The `Authorization` header value of a read signed with this key (`ts`: now)."""
        return sign_read(self.private_key, self.key_id, method, path, body, ts)
