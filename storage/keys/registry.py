"""The tenant key registry: Ed25519 public keys bound to tenants, in every region's control
database.

Each region verifies event signatures from its own control database (invariant I1 holds even
while regions cannot reach each other), so a key must be registered in every region: `create`
and `revoke` write to all of them and are idempotent, so re-running one that failed in some
region completes it. Only public keys are stored; private keys never reach the server.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.config import Settings
from ledger.envelope import check_tenant_id, check_token
from ledger.keys import PUBLIC_KEY_BYTES, key_id_for, public_key_bytes, public_key_to_b64
from storage.control_regions import in_every_region
from storage.keys.errors import (
    KeyConflictError,
    KeyInputError,
    KeyNotFoundError,
    KeyRegistryUnavailableError,
)

_T = TypeVar("_T")

_COLUMNS = "key_id, tenant_id, public_key, created_at, revoked_at"
INSERT_KEY = """
INSERT INTO tenant_keys (key_id, tenant_id, public_key) VALUES ($1, $2, $3)
ON CONFLICT (key_id) DO NOTHING
"""
SELECT_KEY = f"SELECT {_COLUMNS} FROM tenant_keys WHERE key_id = $1"
SELECT_KEYS = f"""
SELECT {_COLUMNS} FROM tenant_keys
WHERE $1::text IS NULL OR tenant_id = $1
ORDER BY tenant_id, key_id
"""
# coalesce: revoking twice keeps the first revocation time.
REVOKE_KEY = f"""
UPDATE tenant_keys SET revoked_at = coalesce(revoked_at, now())
WHERE key_id = $1
RETURNING {_COLUMNS}
"""


@dataclass(frozen=True, slots=True)
class TenantKey:
    """A registered key. `public_key` is the raw 32-byte Ed25519 key (RFC 8032 §5.1.5);
    `regions` lists the regions the answer was read from."""

    key_id: str
    tenant_id: str
    public_key: bytes
    created_at: datetime
    revoked_at: datetime | None
    regions: tuple[str, ...] = ()

    @property
    def revoked(self) -> bool:
        """True once the key has been revoked."""
        return self.revoked_at is not None

    def ed25519(self) -> Ed25519PublicKey:
        """The public key as a `cryptography` object, for verifying."""
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    @property
    def public_key_b64(self) -> str:
        """The public key as base64 of its raw 32 bytes."""
        return public_key_to_b64(self.ed25519())

    @classmethod
    def from_row(cls, row: Any, region: str) -> TenantKey:
        """The key a `tenant_keys` row holds, as read from `region`."""
        return cls(
            key_id=row["key_id"],
            tenant_id=row["tenant_id"],
            public_key=bytes(row["public_key"]),
            created_at=row["created_at"],
            revoked_at=row["revoked_at"],
            regions=(region,),
        )


class KeyRegistry:
    """The registry over the control databases of the given regions.

    `pools` maps region name to an asyncpg pool on that region's control database (its schema
    made by `geoledger db migrate`). Lookups (`get`) read `local_region` only (default: the first
    region), the hot path of signature verification; changes go to every region.
    """

    def __init__(
        self,
        pools: Mapping[str, Any],
        *,
        local_region: str | None = None,
        owned: bool = False,
    ) -> None:
        if not pools:
            raise KeyInputError("expected the control pool of at least one region, got none")
        self._pools = dict(pools)
        self._local = local_region or next(iter(self._pools))
        if self._local not in self._pools:
            raise KeyInputError(
                f"expected local_region to be one of {sorted(self._pools)}, got {self._local!r}"
            )
        self._owned = owned

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        regions: Sequence[str] | None = None,
        local_region: str | None = None,
    ) -> KeyRegistry:
        """A registry with small pools of its own on the control databases of `regions`
        (default: every configured region); `close()` closes them."""
        names = list(regions or settings.regions)
        dsns = {name: settings.region(name).control_dsn for name in names}
        outcomes = await asyncio.gather(
            *(asyncpg.create_pool(dsn, min_size=1, max_size=2) for dsn in dsns.values()),
            return_exceptions=True,
        )
        pools = dict(zip(names, outcomes, strict=True))
        failed = {name: str(p) for name, p in pools.items() if isinstance(p, BaseException)}
        if failed:
            await asyncio.gather(
                *(p.close() for p in pools.values() if not isinstance(p, BaseException))
            )
            raise KeyRegistryUnavailableError(failed)
        return cls(pools, local_region=local_region, owned=True)

    async def close(self) -> None:
        """Close the pools, when this registry opened them."""
        if self._owned:
            await asyncio.gather(*(pool.close() for pool in self._pools.values()))

    async def __aenter__(self) -> KeyRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions whose control databases this registry reaches."""
        return tuple(self._pools)

    async def create(
        self,
        tenant_id: str,
        public_key: bytes | Ed25519PublicKey,
        *,
        key_id: str | None = None,
    ) -> TenantKey:
        """Register `public_key` for `tenant_id` in every region; return it as the local region
        holds it. `key_id` defaults to `ledger.keys.key_id_for(public_key)`.

        Idempotent: registering the same (key id, tenant, public key) again changes nothing.
        Raises KeyInputError for a malformed tenant id, key id or key; KeyConflictError when
        the key id is bound to another tenant or key, or was revoked (ids are never reused);
        KeyRegistryUnavailableError naming the regions that failed.
        """
        raw, key_id = _check_new_key(tenant_id, public_key, key_id)
        # Look everywhere first, so a conflict found in one region writes nothing anywhere.
        existing = await self._everywhere(lambda pool: pool.fetchrow(SELECT_KEY, key_id))
        for region, row in existing.items():
            if row is not None:
                _check_same(TenantKey.from_row(row, region), tenant_id, raw)

        async def register(pool: Any) -> Any:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(INSERT_KEY, key_id, tenant_id, raw)
                return await conn.fetchrow(SELECT_KEY, key_id)

        rows = await self._everywhere(register)
        keys = {region: TenantKey.from_row(row, region) for region, row in rows.items()}
        for key in keys.values():  # another writer may have won the race in some region
            _check_same(key, tenant_id, raw)
        return replace(keys[self._local], regions=self.regions)

    async def get(self, key_id: str) -> TenantKey | None:
        """The key as the local region holds it, revoked or not; None if it is unknown there."""
        rows = await self._in({self._local: self._pools[self._local]}, _fetch_key(key_id))
        row = rows[self._local]
        return None if row is None else TenantKey.from_row(row, self._local)

    async def list(self, tenant_id: str | None = None) -> builtins.list[TenantKey]:
        """Every key (of `tenant_id`, if given) known to any region, by tenant then key id.

        `regions` says where each key is registered; a key revoked in any region is shown
        revoked, with the earliest revocation time."""
        per_region = await self._everywhere(lambda pool: pool.fetch(SELECT_KEYS, tenant_id))
        merged: dict[str, TenantKey] = {}
        for region in self.regions:
            for row in per_region[region]:
                key = TenantKey.from_row(row, region)
                seen = merged.get(key.key_id)
                merged[key.key_id] = key if seen is None else _merge(seen, key)
        return sorted(merged.values(), key=lambda k: (k.tenant_id, k.key_id))

    async def revoke(self, key_id: str) -> TenantKey:
        """Mark the key revoked in every region that knows it (the first revocation time is
        kept); return it. Raises KeyNotFoundError when no region knows it."""
        rows = await self._everywhere(lambda pool: pool.fetchrow(REVOKE_KEY, key_id))
        keys = [TenantKey.from_row(row, region) for region, row in rows.items() if row is not None]
        if not keys:
            raise KeyNotFoundError(key_id)
        result = keys[0]
        for key in keys[1:]:
            result = _merge(result, key)
        return result

    async def _everywhere(self, work: Callable[[Any], Awaitable[_T]]) -> dict[str, _T]:
        return await self._in(self._pools, work)

    @staticmethod
    async def _in(pools: Mapping[str, Any], work: Callable[[Any], Awaitable[_T]]) -> dict[str, _T]:
        """Run `work` on each region's pool concurrently; wait for all, then raise
        KeyRegistryUnavailableError naming every region that failed."""
        results, failed = await in_every_region(
            {region: work(pool) for region, pool in pools.items()}, "tenant_keys"
        )
        if failed:
            raise KeyRegistryUnavailableError(failed)
        return results


def _fetch_key(key_id: str) -> Callable[[Any], Awaitable[Any]]:
    return lambda pool: pool.fetchrow(SELECT_KEY, key_id)


def _check_new_key(
    tenant_id: str, public_key: bytes | Ed25519PublicKey, key_id: str | None
) -> tuple[bytes, str]:
    """The raw public key and the key id to register, or KeyInputError."""
    try:
        check_tenant_id(tenant_id)
    except ValueError as exc:
        raise KeyInputError(f"tenant id: {exc}") from None
    if isinstance(public_key, Ed25519PublicKey):
        key = public_key
    else:
        if len(public_key) != PUBLIC_KEY_BYTES:
            raise KeyInputError(
                f"public key: expected {PUBLIC_KEY_BYTES} raw Ed25519 bytes, got {len(public_key)}"
            )
        try:
            key = Ed25519PublicKey.from_public_bytes(public_key)
        except ValueError as exc:
            raise KeyInputError(f"public key: expected an Ed25519 key: {exc}") from None
    chosen = key_id if key_id is not None else key_id_for(key)
    try:
        check_token(chosen)
    except ValueError as exc:
        raise KeyInputError(f"key id: {exc}") from None
    return public_key_bytes(key), chosen


def _check_same(key: TenantKey, tenant_id: str, raw: bytes) -> None:
    where = key.regions[0] if key.regions else "a region"
    if key.tenant_id != tenant_id:
        raise KeyConflictError(
            f"key id {key.key_id!r} is bound to tenant {key.tenant_id!r} in {where}, "
            f"not to {tenant_id!r}; a key id belongs to one tenant for good"
        )
    if key.public_key != raw:
        raise KeyConflictError(
            f"key id {key.key_id!r} is registered with another public key in {where}"
        )
    if key.revoked_at is not None:
        raise KeyConflictError(
            f"key id {key.key_id!r} was revoked at {key.revoked_at.isoformat()} in {where}; "
            "revoked ids are never reused: create a new key"
        )


def _merge(a: TenantKey, b: TenantKey) -> TenantKey:
    """One key as seen in two regions: registered in both, revoked if revoked in either."""
    revoked = [t for t in (a.revoked_at, b.revoked_at) if t is not None]
    return replace(a, regions=a.regions + b.regions, revoked_at=min(revoked, default=None))
