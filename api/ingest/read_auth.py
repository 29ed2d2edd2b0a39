"""Authenticated reads: a `GET /v1/events/{tenant}/{id}` must be signed by a registered,
unrevoked key of a tenant (ledger/read_signing.py), within `[reads] max_skew_s` of the node's
clock; the route then answers only the key's own tenant, and 404 for any other.

Every refusal is a `ReadUnauthorized` whose `detail` names what was wrong (docs/api.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from api.ingest.errors import NodeUnavailable, ReadUnauthorized
from api.ingest.verify import KeyResolver, KnownKey
from ledger.errors import ReadCredentialError
from ledger.read_config import DEFAULT_MAX_SKEW_S
from ledger.read_signing import AUTH_SCHEME, parse_authorization, verify_read

CHALLENGE = f'{AUTH_SCHEME} realm="geoledger"'


@dataclass(frozen=True)
class Reader:
    """Who a verified read is from: the key that signed it and the tenant the key belongs to."""

    key_id: str
    tenant_id: str

    def may_read(self, tenant_id: str) -> bool:
        return self.tenant_id == tenant_id


class ReadAuthenticator:
    """Checks a read's `Authorization` header against the key registry (cached, as ingest's
    signature checks are). No nonce is kept: docs/DECISIONS.md, "Authenticated reads"."""

    def __init__(
        self,
        keys: KeyResolver,
        max_skew_s: int = DEFAULT_MAX_SKEW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys, self._max_skew_s, self._clock = keys, max_skew_s, clock

    async def authenticate(
        self, method: str, path: str, body: bytes, authorization: str | None
    ) -> Reader:
        """The reader whose key signed this request. Raises ReadUnauthorized (what was wrong in
        `detail`), or NodeUnavailable when the key registry does not answer."""
        if authorization is None:
            raise ReadUnauthorized(
                "missing_credential",
                f"a read needs an 'Authorization: {AUTH_SCHEME} key_id=..., ts=..., sig=...' "
                "header signed by one of the tenant's registered keys",
            )
        try:
            credential = parse_authorization(authorization)
        except ReadCredentialError as exc:
            raise ReadUnauthorized("malformed_credential", f"Authorization: {exc}") from None
        skew = credential.ts - self._clock()
        if abs(skew) > self._max_skew_s:
            raise ReadUnauthorized(
                "stale_timestamp",
                f"ts {credential.ts} is {abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} "
                f"the node's clock; at most {self._max_skew_s} s either way is accepted",
            )
        known = await self._key(credential.key_id)
        if known is None:
            raise ReadUnauthorized("unknown_key", f"key {credential.key_id!r} is not registered")
        if not verify_read(known.public_key, credential, method, path, body):
            raise ReadUnauthorized(
                "bad_signature",
                "the signature does not verify under key_id for this request (method, path, "
                "body digest, ts, key_id)",
            )
        # Checked after the signature: only the key's holder learns that it was revoked.
        if known.revoked:
            raise ReadUnauthorized("revoked_key", f"key {credential.key_id!r} has been revoked")
        return Reader(known.key_id, known.tenant_id)

    async def _key(self, key_id: str) -> KnownKey | None:
        try:
            return await self._keys.key(key_id)
        except Exception as exc:
            # The reader may retry: nothing about its credential is known to be wrong.
            raise NodeUnavailable(f"the key registry did not answer: {exc}") from exc


async def signed_reader(request: Request) -> Reader:
    """FastAPI dependency: the verified reader of `request`, checked by its node's
    `ReadAuthenticator`."""
    reads: ReadAuthenticator = request.app.state.node.reads
    return await reads.authenticate(
        request.method,
        _path_as_sent(request),
        await request.body(),
        request.headers.get("authorization"),
    )


SignedReader = Annotated[Reader, Depends(signed_reader)]


def unauthorized(exc: ReadUnauthorized) -> JSONResponse:
    """The 401 answer: the API's error body with `detail`, and the challenge (RFC 9110 §11.6.1)."""
    return JSONResponse(
        {"error": {"code": "unauthenticated", "detail": exc.detail, "message": exc.message}},
        status_code=401,
        headers={"WWW-Authenticate": CHALLENGE},
    )


def _path_as_sent(request: Request) -> str:
    """The path exactly as on the request line, without its query: what the client signed.
    Some servers put the query in `raw_path` (httpx's ASGI transport), uvicorn does not."""
    raw: bytes | None = request.scope.get("raw_path")
    if raw is None:
        return quote(request.scope["path"])
    return raw.partition(b"?")[0].decode("latin-1")
