-- The versioned routing table of a region's dedup store. The route in force is the row with the
-- highest epoch; nodes cache it and re-read it on refresh. Shards are named by their index into
-- the region's configured `shard_dsns` (DSNs carry credentials and differ per region, so they do
-- not belong in the database): a ring of size N uses shard_dsns[0..N-1].
--
-- Re-sharding (plan -> copy -> verify -> dual_write -> cutover -> cleanup) only ever appends a new
-- epoch; `next_ring_size` names the ring being migrated to while a migration runs.
CREATE TABLE dedup_routing (
    epoch          bigint PRIMARY KEY CHECK (epoch >= 1),
    ring_size      integer NOT NULL CHECK (ring_size >= 1),
    next_ring_size integer NULL CHECK (next_ring_size IS NULL OR next_ring_size >= 1),
    phase          text NOT NULL CHECK (
        phase IN ('stable', 'plan', 'copy', 'verify', 'dual_write', 'cutover', 'cleanup')
    ),
    migration_id   text NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- A stable route migrates to nothing.
    CHECK (phase <> 'stable' OR next_ring_size IS NULL)
);
