-- Re-sharding plans of a region's dedup store (`dedup-migrate plan`). A plan is measured against
-- one routing epoch: how many keys (and their body bytes and copy rows) each shard of the current
-- ring hands to each shard of the target ring under jump hash, and how long copying them takes at
-- the planned rate. The migration workflow reads the plan it runs from here and moves its state.
CREATE TABLE dedup_migration_plans (
    -- Short and readable: `<region>-<from>to<to>-<8 hex>`, e.g. us-2to4-1f3a9c0d.
    id               text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9-]*-[0-9]+to[0-9]+-[0-9a-f]{8}$'),
    region           text NOT NULL,
    from_ring        integer NOT NULL CHECK (from_ring >= 1),
    to_ring          integer NOT NULL CHECK (to_ring >= 1 AND to_ring <> from_ring),
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- The dedup_routing epoch the moves were measured against; a plan whose epoch is no longer
    -- the current one describes a ring that has changed since.
    routing_epoch    bigint NOT NULL CHECK (routing_epoch >= 1),
    -- [{"source": 0, "target": 2, "keys": 1234, "bytes": 567890, "copies": 12}, ...], one entry per
    -- (source, target) pair that moves at least one key (ledger.migration_plan.ShardMove).
    moves            jsonb NOT NULL CHECK (jsonb_typeof(moves) = 'array'),
    -- The preconditions as they were checked when the plan was stored (PlanCheck), none failed.
    checks           jsonb NOT NULL CHECK (jsonb_typeof(checks) = 'array'),
    rate_keys_per_s  double precision NOT NULL CHECK (rate_keys_per_s > 0),
    estimated_copy_s double precision NOT NULL CHECK (estimated_copy_s >= 0),
    state            text NOT NULL DEFAULT 'planned' CHECK (
        state IN ('planned', 'running', 'done', 'rolled_back', 'abandoned')
    ),
    -- The DedupMigrationWorkflow running the plan (`dedup-migrate-<id>`), once started.
    workflow_id      text NULL
);

-- A region re-shards one ring at a time.
CREATE UNIQUE INDEX dedup_migration_plans_one_running
    ON dedup_migration_plans (region) WHERE state = 'running';

CREATE INDEX dedup_migration_plans_by_region ON dedup_migration_plans (region, created_at);
