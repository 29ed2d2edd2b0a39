-- WAL streams whose node left for good (`geoledger ingest retire`): the node stopped taking writes,
-- sealed its last segment and its shipper committed that segment's manifest in every ship target
-- before the row was written. A retired stream is complete: nothing after last_seq will come, so
-- a replayer that applied last_seq is done with it. Written to the control database of every
-- region, so each region's status and replayers read it from their own database.
CREATE TABLE retired_streams (
    -- `<region>/<node>` (ledger.stream_id.StreamId).
    stream     text PRIMARY KEY,
    -- The stream's last seq; 0 for a node that never acknowledged an event.
    last_seq   bigint NOT NULL CHECK (last_seq >= 0),
    retired_at timestamptz NOT NULL DEFAULT now()
);
