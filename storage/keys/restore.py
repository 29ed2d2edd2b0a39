"""Restoring the tenant keys of a region rebuilt on new disks (runbooks/geo-failover.md) from a
region that kept its control database: every region holds every key, so one survivor's copy is
the whole registry, revocations included. Without the keys the rebuilt region verifies no event
(I1), and its replay stops at the first segment."""

from __future__ import annotations

import asyncpg

SELECT_ALL = "SELECT key_id, tenant_id, public_key, created_at, revoked_at FROM tenant_keys"
# A key the target already holds keeps its binding (a conflict stays visible to `keys list`);
# a revocation is never undone, the first revocation time wins.
UPSERT_KEY = """
INSERT INTO tenant_keys (key_id, tenant_id, public_key, created_at, revoked_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (key_id) DO UPDATE
SET revoked_at = least(tenant_keys.revoked_at, EXCLUDED.revoked_at)
"""


async def restore_tenant_keys(from_dsn: str, to_dsn: str) -> int:
    """Copy every tenant key of the control database `from_dsn` into `to_dsn` (idempotent);
    return how many keys were copied."""
    source = await asyncpg.connect(from_dsn)
    try:
        rows = await source.fetch(SELECT_ALL)
    finally:
        await source.close()
    target = await asyncpg.connect(to_dsn)
    try:
        await target.executemany(UPSERT_KEY, [tuple(row) for row in rows])
    finally:
        await target.close()
    return len(rows)
