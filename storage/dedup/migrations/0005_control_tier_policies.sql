-- Per-tenant tiering policy overrides (ledger/tier_policy.py). `fields` holds only the policy
-- fields the override sets, by name; every other field comes from geoledger.toml ([tiering] and
-- [tenants.<tenant>]), so a default changed there reaches every field nobody overrode. Every
-- region's control database holds the tenant's row: `geoledger tier policy set` writes all of
-- them. A row whose last field is unset is deleted, so no row means no override.
CREATE TABLE tier_policies (
    tenant_id  text COLLATE "C" PRIMARY KEY,
    fields     jsonb NOT NULL CHECK (jsonb_typeof(fields) = 'object' AND fields <> '{}'::jsonb),
    updated_at timestamptz NOT NULL DEFAULT now()
);
