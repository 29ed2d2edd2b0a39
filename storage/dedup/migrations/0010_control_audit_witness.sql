-- The audit log's witnesses, in a region's control database (storage/audit/witness_*.py).
--
-- Cosignatures the region's log obtained, one per (checkpoint batch, witness): the C2SP
-- tlog-cosignature line exactly as the witness answered it, its timestamp, and the tree size it
-- covers. A receipt carries these lines next to the log's own signature.
CREATE TABLE audit_cosignatures (
    batch     bigint NOT NULL CHECK (batch >= 0),
    witness   text COLLATE "C" NOT NULL,
    line      text NOT NULL,
    timestamp bigint NOT NULL CHECK (timestamp > 0),
    size      bigint NOT NULL CHECK (size >= 0),
    PRIMARY KEY (batch, witness)
);

-- The circuit breaker of each witness this region submits to: consecutive failures, and while
-- open_until is in the future the witness is skipped. last_size is the tree size the witness
-- last cosigned for this log, the old size of the next submission.
CREATE TABLE audit_witness_health (
    witness              text COLLATE "C" PRIMARY KEY,
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    open_until           timestamptz,
    last_error           text,
    last_size            bigint CHECK (last_size >= 0)
);

-- The witness role's own state: per log origin, the latest checkpoint it verified and cosigned.
-- Advanced only by a compare-and-set on size (C2SP tlog-witness: checking the old size and
-- storing the new checkpoint are one atomic step), never moved back.
CREATE TABLE witness_checkpoints (
    origin     text COLLATE "C" PRIMARY KEY,
    size       bigint NOT NULL CHECK (size >= 0),
    root       bytea NOT NULL CHECK (octet_length(root) = 32),
    note       text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
