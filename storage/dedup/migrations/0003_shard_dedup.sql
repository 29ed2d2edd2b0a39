-- The dedup state of one shard (invariant I3). Every column below is derived from WAL records,
-- never from the applying region, so two regions that applied the same records hold the same
-- rows. Text columns use the byte-wise "C" collation: the winner order (ledger.order.WinnerKey)
-- compares code points, and dumps sort by key identically whatever the server's locale.

-- One row per key: the record that wins, earliest (hlc, region, node, seq).
CREATE TABLE dedup_events (
    tenant_id      text COLLATE "C" NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    hlc            bigint NOT NULL CHECK (hlc >= 0),
    region         text COLLATE "C" NOT NULL,
    node           text COLLATE "C" NOT NULL,
    seq            bigint NOT NULL CHECK (seq >= 0),
    digest         bytea NOT NULL CHECK (octet_length(digest) = 32),
    -- The signed event's canonical JSON bytes, signature included, exactly as applied.
    event          bytea NOT NULL CHECK (octet_length(event) > 0),
    accepted_at_ms bigint NOT NULL CHECK (accepted_at_ms >= 0),
    PRIMARY KEY (tenant_id, event_id)
) WITH (fillfactor = 90);  -- room on the page keeps a displaced winner's rewrite a HOT update

-- Every other record ever applied for a key. Keeping all of them (not only those that conflict)
-- is what makes the state independent of the order of application.
CREATE TABLE dedup_copies (
    tenant_id text COLLATE "C" NOT NULL,
    event_id  text COLLATE "C" NOT NULL,
    region    text COLLATE "C" NOT NULL,
    node      text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 0),
    hlc       bigint NOT NULL CHECK (hlc >= 0),
    digest    bytea NOT NULL CHECK (octet_length(digest) = 32),
    PRIMARY KEY (tenant_id, event_id, region, node, seq)
);

-- Conflicts are derived, not stored: a stored list would depend on the order records arrived in.
CREATE VIEW dedup_conflicts AS
SELECT c.tenant_id,
       c.event_id,
       e.hlc    AS winner_hlc,
       e.region AS winner_region,
       e.node   AS winner_node,
       e.seq    AS winner_seq,
       e.digest AS winner_digest,
       c.hlc    AS loser_hlc,
       c.region AS loser_region,
       c.node   AS loser_node,
       c.seq    AS loser_seq,
       c.digest AS loser_digest
FROM dedup_copies c
JOIN dedup_events e USING (tenant_id, event_id)
WHERE c.digest <> e.digest;

-- Per WAL stream (`<region>/<node>`), the highest seq applied to this shard, written in the same
-- transaction as the records. A region's replay watermark of a stream is the minimum over its
-- shards; recovery re-applies from there (re-applying is a no-op).
CREATE TABLE applied_positions (
    stream     text COLLATE "C" PRIMARY KEY,
    seq        bigint NOT NULL CHECK (seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);
