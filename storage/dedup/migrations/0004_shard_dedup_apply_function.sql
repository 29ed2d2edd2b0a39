-- The dedup apply of one batch on one shard (storage/dedup/apply.py), as one function: a batch
-- costs one statement per shard, an implicit transaction of its own, instead of BEGIN, two
-- statements and COMMIT, and the records CLAIM did not settle are not sent a second time.
-- Nothing here changes a table: a shard migrated to this version holds the same rows as before,
-- and an older node (which applies with its own statements) keeps working beside it.
--
-- 1. CLAIM inserts each key's earliest batch record as its winner, unless the key has one
--    already. Its `ON CONFLICT DO UPDATE ... WHERE false` changes nothing but locks every
--    existing winner row of the batch (PostgreSQL locks a conflicting row before evaluating the
--    WHERE), in key order, so concurrent batches sharing keys queue on those locks rather than
--    deadlock. A record CLAIM inserted is settled: its key had no winner, nothing else can touch
--    the row before we commit, and the record is the earliest of the batch for its key. For a
--    batch of new keys (ingest's usual case) that is every record, and CLAIM is the whole apply.
-- 2. RESOLVE takes the records CLAIM did not settle and, with every key of the batch locked by
--    us, reads the winners as they are now (the function is VOLATILE, so under READ COMMITTED
--    each statement takes a fresh snapshot, and every writer of those rows committed before we
--    got the lock), promotes records that beat them, moves the displaced winners and every
--    losing record into dedup_copies, and returns those records' outcomes. Settled records are
--    not returned: the caller answers them as accepted, winner itself.
-- 3. The stream's applied seq is raised (never lowered), when a stream is given.
--
-- Since each key's rows are written only while its winner row is locked, and the winner is the
-- minimum of everything applied, the final state is the same whatever the order and grouping of
-- applies (I3). Text columns are compared in the tables' byte-wise "C" collation, so the winner
-- order is ledger.order's. Both statements spell out the same `batch` rows from the arrays: a
-- helper function would return them in the default collation whenever the planner did not
-- inline it.
CREATE FUNCTION dedup_apply(
    p_tenant_id text[],
    p_event_id text[],
    p_hlc bigint[],
    p_region text[],
    p_node text[],
    p_seq bigint[],
    p_digest bytea[],
    p_event bytea[],
    p_accepted_at_ms bigint[],
    p_stream text,
    p_through_seq bigint
) RETURNS TABLE (
    ord bigint,
    is_winner boolean,
    same_digest boolean,
    winner_region text,
    winner_node text,
    winner_seq bigint,
    winner_hlc bigint,
    winner_digest bytea
)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    -- pending[i]: record i (1-based) was not settled by CLAIM
    pending boolean[];
    unsettled bigint;
    judged bigint;
BEGIN
    IF cardinality(p_tenant_id) > 0 THEN
        WITH batch AS MATERIALIZED (
            SELECT b.ord,
                   b.tenant_id COLLATE "C" AS tenant_id, b.event_id COLLATE "C" AS event_id,
                   b.hlc, b.region COLLATE "C" AS region, b.node COLLATE "C" AS node, b.seq,
                   b.digest, b.event, b.accepted_at_ms
            FROM unnest(p_tenant_id, p_event_id, p_hlc, p_region, p_node, p_seq, p_digest,
                        p_event, p_accepted_at_ms) WITH ORDINALITY
                AS b(tenant_id, event_id, hlc, region, node, seq, digest, event,
                     accepted_at_ms, ord)
        ),
        claimed AS (
            INSERT INTO dedup_events AS e
                (tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms)
            SELECT DISTINCT ON (tenant_id, event_id)
                tenant_id, event_id, hlc, region, node, seq, digest, event, accepted_at_ms
            FROM batch
            ORDER BY tenant_id, event_id, hlc, region, node, seq
            ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
            RETURNING e.tenant_id, e.event_id, e.region, e.node, e.seq
        )
        SELECT array_agg(c.tenant_id IS NULL ORDER BY b.ord),
               count(*) FILTER (WHERE c.tenant_id IS NULL)
        INTO pending, unsettled
        FROM batch b
        LEFT JOIN claimed c
            ON (c.tenant_id, c.event_id, c.region, c.node, c.seq)
             = (b.tenant_id, b.event_id, b.region, b.node, b.seq);
    ELSE
        unsettled := 0;
    END IF;

    IF unsettled > 0 THEN
        RETURN QUERY
        WITH batch AS MATERIALIZED (
            SELECT b.ord,
                   b.tenant_id COLLATE "C" AS tenant_id, b.event_id COLLATE "C" AS event_id,
                   b.hlc, b.region COLLATE "C" AS region, b.node COLLATE "C" AS node, b.seq,
                   b.digest, b.event, b.accepted_at_ms
            FROM unnest(p_tenant_id, p_event_id, p_hlc, p_region, p_node, p_seq, p_digest,
                        p_event, p_accepted_at_ms) WITH ORDINALITY
                AS b(tenant_id, event_id, hlc, region, node, seq, digest, event,
                     accepted_at_ms, ord)
            WHERE pending[b.ord::integer]
        ),
        cand AS (
            -- each key's earliest unsettled record
            SELECT DISTINCT ON (tenant_id, event_id) *
            FROM batch
            ORDER BY tenant_id, event_id, hlc, region, node, seq
        ),
        judged AS (
            -- each key's candidate beside its winner before this statement (locked by CLAIM)
            SELECT c.tenant_id, c.event_id,
                   (c.hlc, c.region, c.node, c.seq) < (w.hlc, w.region, w.node, w.seq) AS beats,
                   c.hlc, c.region, c.node, c.seq, c.digest, c.event, c.accepted_at_ms,
                   w.hlc AS w_hlc, w.region AS w_region, w.node AS w_node, w.seq AS w_seq,
                   w.digest AS w_digest
            FROM cand c
            JOIN dedup_events w USING (tenant_id, event_id)
        ),
        promoted AS (
            UPDATE dedup_events e
            SET hlc = j.hlc, region = j.region, node = j.node, seq = j.seq, digest = j.digest,
                event = j.event, accepted_at_ms = j.accepted_at_ms
            FROM judged j
            WHERE j.beats AND e.tenant_id = j.tenant_id AND e.event_id = j.event_id
        ),
        final AS (
            -- each key's winner after this statement
            SELECT tenant_id, event_id,
                   CASE WHEN beats THEN hlc ELSE w_hlc END AS hlc,
                   CASE WHEN beats THEN region ELSE w_region END AS region,
                   CASE WHEN beats THEN node ELSE w_node END AS node,
                   CASE WHEN beats THEN seq ELSE w_seq END AS seq,
                   CASE WHEN beats THEN digest ELSE w_digest END AS digest
            FROM judged
        ),
        copied AS (
            -- the displaced winners, and every record that is not its key's winner now
            INSERT INTO dedup_copies (tenant_id, event_id, region, node, seq, hlc, digest)
            SELECT DISTINCT ON (tenant_id, event_id, region, node, seq)
                tenant_id, event_id, region, node, seq, hlc, digest
            FROM (
                SELECT tenant_id, event_id, w_region, w_node, w_seq, w_hlc, w_digest
                FROM judged
                WHERE beats
                UNION ALL
                SELECT b.tenant_id, b.event_id, b.region, b.node, b.seq, b.hlc, b.digest
                FROM batch b
                JOIN final f USING (tenant_id, event_id)
                WHERE (b.region, b.node, b.seq) <> (f.region, f.node, f.seq)
            ) AS losers (tenant_id, event_id, region, node, seq, hlc, digest)
            ORDER BY tenant_id, event_id, region, node, seq
            ON CONFLICT DO NOTHING
        )
        SELECT b.ord,
               (b.region, b.node, b.seq) = (f.region, f.node, f.seq),
               b.digest = f.digest,
               f.region::text, f.node::text, f.seq, f.hlc, f.digest
        FROM batch b
        JOIN final f USING (tenant_id, event_id);

        -- Every unsettled key's winner row is locked by CLAIM, so RESOLVE judges each unsettled
        -- record; anything else is a broken table, and nothing may commit half-judged.
        GET DIAGNOSTICS judged = ROW_COUNT;
        IF judged <> unsettled THEN
            RAISE EXCEPTION 'dedup_apply: expected % judged records, got %', unsettled, judged;
        END IF;
    END IF;

    IF p_stream IS NOT NULL THEN
        INSERT INTO applied_positions AS p (stream, seq) VALUES (p_stream, p_through_seq)
        ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, updated_at = now()
        WHERE excluded.seq > p.seq;
    END IF;
END
$fn$;
