-- The region's audit log (ARCHITECTURE §3 Audit; storage/audit/). Every record of the region's
-- own WAL streams becomes one leaf; enrich_worm writes a sealed segment's leaves here with no
-- index, anchor_batch appends them (assigns indexes, stores the new perfect nodes, signs a
-- checkpoint) in one transaction. Rows are never updated past that and never deleted: the log
-- only grows.

-- One row per sealed segment enriched. The leaves object in write-once storage (worm_key) holds
-- the same leaves; worm_version is the version a WORM read must name (an S3 key can gain a
-- second version or a delete marker; the locked one stays), leaves_sha256 the object's SHA-256,
-- manifest_sha256 the CRR manifest the segment was verified against. first_index and appended_at are set together when its leaves are
-- appended, so "appended_at IS NULL" is the backlog.
CREATE TABLE audit_segments (
    stream          text COLLATE "C" NOT NULL,
    first_seq       bigint NOT NULL CHECK (first_seq >= 1),
    last_seq        bigint NOT NULL,
    records         integer NOT NULL,
    manifest_sha256 text NOT NULL CHECK (manifest_sha256 ~ '^[0-9a-f]{64}$'),
    worm_key        text NOT NULL,
    worm_version    text NOT NULL,
    leaves_sha256   text NOT NULL CHECK (leaves_sha256 ~ '^[0-9a-f]{64}$'),
    enriched_at     timestamptz NOT NULL DEFAULT now(),
    first_index     bigint CHECK (first_index >= 0),
    appended_at     timestamptz,
    PRIMARY KEY (stream, first_seq),
    CHECK (records = last_seq - first_seq + 1),
    CHECK ((first_index IS NULL) = (appended_at IS NULL))
);
-- The backlog, in the order append_batch takes it.
CREATE INDEX audit_segments_unappended ON audit_segments (stream, first_seq)
    WHERE appended_at IS NULL;

-- One row per leaf: the leaf encoding (ledger/audit_leaf.py) and its RFC 9162 leaf hash. idx is
-- the leaf's index in the log, NULL until appended; UNIQUE makes an index given twice fail the
-- appending transaction instead of forking the log. acked_at is the record's accepted_at_ms, for
-- the backlog's age.
CREATE TABLE audit_leaves (
    stream    text COLLATE "C" NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 1),
    tenant_id text COLLATE "C" NOT NULL,
    event_id  text COLLATE "C" NOT NULL,
    leaf      bytea NOT NULL,
    leaf_hash bytea NOT NULL CHECK (length(leaf_hash) = 32),
    acked_at  timestamptz NOT NULL,
    idx       bigint UNIQUE CHECK (idx >= 0),
    PRIMARY KEY (stream, seq)
);
-- Receipts look a leaf up by the event it records.
CREATE INDEX audit_leaves_event ON audit_leaves (tenant_id, event_id);
-- The backlog's oldest unanchored leaf.
CREATE INDEX audit_leaves_unappended ON audit_leaves (acked_at) WHERE idx IS NULL;

-- Every perfect subtree root of the log, leaves included (level 0): (level, idx) covers leaves
-- [idx << level, (idx + 1) << level). Any proof, and every tile, is a fold of stored nodes, so
-- proving never rebuilds the tree.
CREATE TABLE audit_nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   bigint NOT NULL CHECK (idx >= 0),
    hash  bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- The log's head: its size and compact range (merkle.CompactRange.to_bytes(), NULL for the empty
-- tree), so an append costs O(batch + log n). One row, locked FOR UPDATE by every append: two
-- appenders serialize on it.
CREATE TABLE audit_log (
    id            smallint PRIMARY KEY CHECK (id = 1),
    size          bigint NOT NULL CHECK (size >= 0),
    compact_range bytea,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_log (id, size, compact_range) VALUES (1, 0, NULL);

-- One signed checkpoint (C2SP signed note) per batch; batch numbers make anchor_batch
-- idempotent: a batch that exists is returned as it is.
CREATE TABLE audit_checkpoints (
    batch      bigint PRIMARY KEY CHECK (batch >= 1),
    size       bigint NOT NULL CHECK (size >= 0),
    root       bytea NOT NULL CHECK (length(root) = 32),
    note       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Audit tasks that exhausted their retry policy. One open row per task (task_type,
-- idempotency_key): a task failing again adds its attempts to that row. Rows are never deleted:
-- a replayed or purged row stays, with who purged it and why, as the record of that decision.
CREATE TABLE audit_dlq (
    id              bigserial PRIMARY KEY,
    task_type       text COLLATE "C" NOT NULL,
    idempotency_key text COLLATE "C" NOT NULL,
    workflow_id     text NOT NULL,
    input           jsonb NOT NULL,
    error           text NOT NULL,
    attempts        integer NOT NULL CHECK (attempts >= 1),
    first_failure   timestamptz NOT NULL DEFAULT now(),
    last_failure    timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'replayed', 'purged')),
    replayed_at     timestamptz,
    purged_at       timestamptz,
    purged_by       text,
    purge_reason    text,
    CHECK ((state = 'replayed') = (replayed_at IS NOT NULL)),
    CHECK ((state = 'purged') = (purged_at IS NOT NULL AND purged_by <> '' AND purge_reason <> ''))
);
CREATE UNIQUE INDEX audit_dlq_one_open ON audit_dlq (task_type, idempotency_key)
    WHERE state = 'open';
