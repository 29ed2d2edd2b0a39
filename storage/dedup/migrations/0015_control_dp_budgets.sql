-- Differentially private exports (`geoledger export dp`, ledger/dp_budget.py): each tenant's
-- total privacy budget and the ledger of every export charged against it. Both live in one
-- region's control database only ([dp] budget_region): a budget copied to every region could be
-- spent once in each. Costs are exact decimals, so ten spends of 0.1 use a budget of 1 exactly.
CREATE TABLE dp_budgets (
    tenant_id  text COLLATE "C" PRIMARY KEY,
    epsilon    numeric NOT NULL CHECK (epsilon >= 0),
    delta      numeric NOT NULL CHECK (delta >= 0 AND delta < 1),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);

-- One row per released export, inserted in the transaction that locks the tenant's dp_budgets
-- row and checks the sum of these rows plus the new cost against it, and committed before the
-- result is shown: an export is never released unrecorded, and concurrent exports cannot spend
-- more than the budget. Rows are never updated or deleted; what a tenant spent is their sum.
CREATE TABLE dp_spends (
    id         bigserial PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES dp_budgets (tenant_id),
    query      text NOT NULL,
    mechanism  text NOT NULL,
    epsilon    numeric NOT NULL CHECK (epsilon > 0),
    delta      numeric NOT NULL CHECK (delta >= 0 AND delta < 1),
    -- The query's public parameters: categories, field and clamp, region read.
    parameters jsonb NOT NULL CHECK (jsonb_typeof(parameters) = 'object'),
    who        text NOT NULL,
    spent_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dp_spends_by_tenant ON dp_spends (tenant_id, spent_at);
