"""The ingest node's view of the key registry: cached lookups for the verification hot path."""

from __future__ import annotations

import time

from api.ingest.verify import KnownKey
from storage.keys import KeyCache, KeyRegistry

TENANT_TTL_SECONDS = 2.0


class RegistryKeyResolver:
    """Keys from the region's control database through a short-TTL cache. Whether a tenant exists
    is asked only for events whose key is unknown, to tell `tenant.unknown` from `key.unknown`."""

    def __init__(self, registry: KeyRegistry, cache: KeyCache) -> None:
        self._registry = registry
        self._cache = cache
        self._tenants: dict[str, tuple[float, bool]] = {}

    async def key(self, key_id: str) -> KnownKey | None:
        found = await self._cache.get(key_id)
        if found is None:
            return None
        return KnownKey(found.key_id, found.tenant_id, found.public_key, found.revoked)

    async def tenant_exists(self, tenant_id: str) -> bool:
        cached = self._tenants.get(tenant_id)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        exists = bool(await self._registry.list(tenant_id))
        self._tenants[tenant_id] = (time.monotonic() + TENANT_TTL_SECONDS, exists)
        return exists
