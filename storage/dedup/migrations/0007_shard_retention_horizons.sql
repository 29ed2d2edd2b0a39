-- Convergent retention (ARCHITECTURE §3 "Tiering"; storage/tiering/expire.py): past a tenant's
-- retention its records are deleted in every tier, behind a per-tenant horizon recorded in every
-- shard BEFORE anything is deleted. The horizon is an hlc (ledger/hlc.py: `physical_ms << 16 |
-- logical`): a record is expired when its own hlc is below it. The horizon is a function of the
-- policy and the clock the expiry runs to only (ledger/retention.py: `(as_of_ms -
-- retention_days * 86400000) << 16`), never of the region or the rows, so two regions that expire
-- with the same cut-off record the same value; it only ever rises (the writer takes GREATEST).
--
-- Retention is stored per shard, not in the control database, because the dedup apply runs per
-- shard and must refuse a record below the horizon in the same statement that would insert it:
-- a late replay (a region catching up on a stream, or a WAL re-applied after recovery) then never
-- resurrects an expired record. A tenant without a row has no horizon (nothing expired).
CREATE TABLE retention_horizons (
    tenant_id   text COLLATE "C" PRIMARY KEY,
    horizon_hlc bigint NOT NULL CHECK (horizon_hlc >= 0),
    -- The clock the horizon was derived from, for operators; the apply reads only horizon_hlc.
    as_of_ms    bigint NOT NULL CHECK (as_of_ms >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- dedup_apply (0004) with one step before CLAIM, same signature and same result columns:
-- 0. EXPIRE: one index probe per distinct tenant of the batch (`= ANY` on the primary key) reads
--    the horizons; a batch none of whose tenants has one (every tenant without retention) goes
--    on exactly as before. Otherwise each record below its tenant's horizon is marked expired:
--    CLAIM does not insert it, RESOLVE does not judge it, nothing of it is written (not even a
--    copy), and it comes back as a row whose `is_winner` is NULL (no other row has a NULL there)
--    with the horizon that refused it in `winner_hlc`; storage/dedup/apply.py answers it
--    Outcome.EXPIRED. The stream's position still advances past it: the record was applied, as
--    "refused", and re-applying it refuses it again.
-- The horizon is read without a lock: an apply whose statement began before a horizon was first
-- recorded may still insert a record below it; the expiry deletes below the horizon after
-- recording it, on every run, so such a record is gone at the latest by the next run and is
-- refused ever after. Unchanged from 0004 otherwise (see there for CLAIM and RESOLVE).
CREATE OR REPLACE FUNCTION dedup_apply(
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
    -- the horizons of the batch's tenants that have one, as parallel arrays
    h_tenant text[];
    h_hlc bigint[];
    -- expired[i]: record i is below its tenant's horizon (NULL: no tenant of the batch has one)
    expired boolean[];
    refused bigint := 0;
BEGIN
    SELECT array_agg(h.tenant_id::text), array_agg(h.horizon_hlc)
    INTO h_tenant, h_hlc
    FROM retention_horizons h
    WHERE h.tenant_id = ANY (p_tenant_id);
    IF h_tenant IS NOT NULL THEN
        SELECT array_agg(COALESCE(b.hlc < h.horizon_hlc, false) ORDER BY b.ord),
               count(*) FILTER (WHERE b.hlc < h.horizon_hlc)
        INTO expired, refused
        FROM unnest(p_tenant_id, p_hlc) WITH ORDINALITY AS b(tenant_id, hlc, ord)
        LEFT JOIN unnest(h_tenant, h_hlc) AS h(tenant_id, horizon_hlc)
            ON h.tenant_id = b.tenant_id;
    END IF;

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
            WHERE NOT COALESCE(expired[ord::integer], false)
            ORDER BY tenant_id, event_id, hlc, region, node, seq
            ON CONFLICT (tenant_id, event_id) DO UPDATE SET hlc = e.hlc WHERE false
            RETURNING e.tenant_id, e.event_id, e.region, e.node, e.seq
        )
        SELECT array_agg(
                   c.tenant_id IS NULL AND NOT COALESCE(expired[b.ord::integer], false)
                   ORDER BY b.ord
               ),
               count(*) FILTER (
                   WHERE c.tenant_id IS NULL AND NOT COALESCE(expired[b.ord::integer], false)
               )
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

    IF refused > 0 THEN
        RETURN QUERY
        SELECT b.ord, NULL::boolean, NULL::boolean, NULL::text, NULL::text, NULL::bigint,
               h.horizon_hlc, NULL::bytea
        FROM unnest(p_tenant_id, p_hlc) WITH ORDINALITY AS b(tenant_id, hlc, ord)
        JOIN unnest(h_tenant, h_hlc) AS h(tenant_id, horizon_hlc) ON h.tenant_id = b.tenant_id
        WHERE b.hlc < h.horizon_hlc;
    END IF;

    IF p_stream IS NOT NULL THEN
        INSERT INTO applied_positions AS p (stream, seq) VALUES (p_stream, p_through_seq)
        ON CONFLICT (stream) DO UPDATE SET seq = excluded.seq, updated_at = now()
        WHERE excluded.seq > p.seq;
    END IF;
END
$fn$;
