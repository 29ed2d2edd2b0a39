-- Online re-sharding switches reads to the new ring before writes stop reaching the old one: the
-- phase `cutover_reads` sits between dual_write and cutover (storage/dedup/routing.py).
ALTER TABLE dedup_routing DROP CONSTRAINT dedup_routing_phase_check;
ALTER TABLE dedup_routing ADD CONSTRAINT dedup_routing_phase_check CHECK (
    phase IN (
        'stable', 'plan', 'copy', 'verify', 'dual_write', 'cutover_reads', 'cutover', 'cleanup'
    )
);

-- Every live writer process (ingest node, replay/tiering worker) of the region, the routing epoch
-- it writes with, and when it last read the route (storage/dedup/route_watch.py). The re-sharding
-- workflow waits until every node seen recently has acknowledged an epoch that moves writes. A
-- node deletes its row when it closes; one that stops polling is no longer live, and its lease
-- has run out, so it no longer writes either.
CREATE TABLE dedup_route_nodes (
    -- `ingest/<region>/<node>` or `worker/<host>/<pid>`.
    node     text PRIMARY KEY,
    role     text NOT NULL,
    -- The epoch whose writes the node has finished switching to: no apply of an older one runs.
    epoch    bigint NOT NULL CHECK (epoch >= 1),
    acked_at timestamptz NOT NULL,
    -- The last successful read of the route: the node's heartbeat.
    seen_at  timestamptz NOT NULL
);
