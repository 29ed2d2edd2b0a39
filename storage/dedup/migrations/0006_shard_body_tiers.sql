-- Body tiers (ARCHITECTURE §3 "Tiering"): a winner's key row (tenant, event id, digest, winner
-- order, stream position) never moves; only its body does, and it is in exactly one tier:
--   0 hot:  `event`, the canonical signed event, as applied;
--   1 warm: `warm_body`, the same bytes as a codec blob (storage/tiering/codec.py: a one-byte
--           header, then the raw body, a zstd frame, or a dictionary id and a zstd frame);
--   2 cold: a blob of a pack in the region's object store, `cold_length` bytes at `cold_offset`
--           of pack `cold_pack_id`, hashing to `cold_sha256` (storage/tiering/packs.py).
-- Whatever the tier, the body decodes to the bytes applied, which the reader checks against the
-- row's `digest` before it answers; tiers are physical only, so nothing a region compares (digest,
-- order, positions) changes when a body moves.
--
-- Nothing here changes an existing row's meaning: every row is hot until demoted, and the dedup
-- apply (0004) keeps inserting hot rows. No index is added, so ingest pays nothing for tiers:
-- demotion walks a tenant's rows in primary-key order with a keyset checkpoint.
ALTER TABLE dedup_events
    ALTER COLUMN event DROP NOT NULL,
    ADD COLUMN body_tier smallint NOT NULL DEFAULT 0,
    ADD COLUMN warm_body bytea,
    ADD COLUMN cold_pack_id text COLLATE "C",
    ADD COLUMN cold_offset bigint,
    ADD COLUMN cold_length bigint,
    ADD COLUMN cold_sha256 bytea,
    -- COALESCE: a comparison with a NULL column is NULL, which a CHECK would let through.
    ADD CONSTRAINT dedup_events_body_in_one_tier CHECK (COALESCE(
        CASE body_tier
            WHEN 0 THEN event IS NOT NULL AND warm_body IS NULL AND cold_pack_id IS NULL
            WHEN 1 THEN event IS NULL AND octet_length(warm_body) > 0 AND cold_pack_id IS NULL
            WHEN 2 THEN event IS NULL AND warm_body IS NULL
                AND cold_pack_id ~ '^[0-9a-f]{32}$' AND cold_offset >= 0 AND cold_length > 0
                AND octet_length(cold_sha256) = 32
        END,
        false
    ));

-- A new winner (an earlier record displacing the one the row held) arrives with its body: the
-- row is hot again, and whatever body the old winner had in a lower tier is no longer the row's.
-- Demotion never changes the winner, so this fires only for the apply's promotions; a demotion
-- racing one finds the winner changed (it updates only the winner it read) and leaves the row.
CREATE FUNCTION dedup_events_new_winner_is_hot() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.body_tier := 0;
    NEW.warm_body := NULL;
    NEW.cold_pack_id := NULL;
    NEW.cold_offset := NULL;
    NEW.cold_length := NULL;
    NEW.cold_sha256 := NULL;
    RETURN NEW;
END
$fn$;

CREATE TRIGGER dedup_events_new_winner_is_hot
BEFORE UPDATE ON dedup_events
FOR EACH ROW
WHEN ((NEW.region, NEW.node, NEW.seq) IS DISTINCT FROM (OLD.region, OLD.node, OLD.seq))
EXECUTE FUNCTION dedup_events_new_winner_is_hot();
