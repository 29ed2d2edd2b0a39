"""Tenant tiering policy overrides in one control database: the `tier_policies` table
(migration 0005), one row per tenant whose jsonb `fields` holds only the fields it overrides.

Changes are single statements that merge into the stored fields (`||`, `-`), so two changes of
different fields never lose either. Validation is the caller's (workers/tier_policy.py): this
module stores what it is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ledger.tier_policy import TierPolicyOverride, build_override

SELECT_FIELDS = "SELECT fields FROM tier_policies WHERE tenant_id = $1"
SELECT_ALL_FIELDS = "SELECT tenant_id, fields FROM tier_policies ORDER BY tenant_id"
SET_FIELDS = """
INSERT INTO tier_policies (tenant_id, fields) VALUES ($1, $2::jsonb)
ON CONFLICT (tenant_id) DO UPDATE
SET fields = tier_policies.fields || EXCLUDED.fields, updated_at = now()
RETURNING fields
"""
# An override whose last field is unset is deleted (the table holds no empty overrides).
UNSET_FIELDS = """
WITH kept AS (
    UPDATE tier_policies SET fields = fields - $2::text[], updated_at = now()
    WHERE tenant_id = $1 AND fields - $2::text[] <> '{}'::jsonb
    RETURNING fields
), emptied AS (
    DELETE FROM tier_policies WHERE tenant_id = $1 AND fields - $2::text[] = '{}'::jsonb
)
SELECT fields FROM kept
"""


async def get_override(db: Any, tenant: str) -> TierPolicyOverride | None:
    """The tenant's stored override on `db` (an asyncpg connection or pool); None if it has none.

    Raises TierPolicyError when the stored fields are not policy fields of the right types.
    """
    return _override(await db.fetchval(SELECT_FIELDS, tenant))


async def list_overrides(db: Any) -> dict[str, TierPolicyOverride]:
    """Every tenant's stored override on `db`, by tenant.

    Raises TierPolicyError when stored fields are not policy fields of the right types.
    """
    rows = await db.fetch(SELECT_ALL_FIELDS)
    return {row["tenant_id"]: build_override(json.loads(row["fields"])) for row in rows}


async def set_fields(db: Any, tenant: str, changes: TierPolicyOverride) -> TierPolicyOverride:
    """Store the fields `changes` sets, keeping the tenant's other overridden fields; return the
    whole override now stored."""
    fields = changes.fields()
    if not fields:
        return await get_override(db, tenant) or TierPolicyOverride()
    stored = _override(await db.fetchval(SET_FIELDS, tenant, json.dumps(fields)))
    assert stored is not None  # the upsert returns the row it wrote
    return stored


async def unset_fields(db: Any, tenant: str, names: Sequence[str]) -> TierPolicyOverride | None:
    """Remove the fields `names` from the tenant's override (absent ones are ignored); return
    what is left, None when nothing is."""
    return _override(await db.fetchval(UNSET_FIELDS, tenant, list(names)))


def _override(stored: str | None) -> TierPolicyOverride | None:
    return None if stored is None else build_override(json.loads(stored))
