-- A witness that refused this region's checkpoint as a fork or a rollback (AuditForkDetected).
-- The mark stays until an operator clears it (`geoledger audit witness-reset`) after comparing
-- the witness's checkpoint with the log's: while it is set the witness is not sent checkpoints
-- (the answer would only repeat) and audit_fork_detected{witness} is 1, so AuditForkDetected
-- keeps firing instead of being retried into silence.
ALTER TABLE audit_witness_health
    ADD COLUMN fork_detected_at timestamptz,
    ADD COLUMN fork_detail text;
