-- Counts one batch of votes (first statement of the batch's transaction).
-- $1..$5: the batch's votes (vote_hash, citizen_id, law_id, choice, timestamp), already free of
--         duplicates among themselves and sorted by (law_id, citizen_id): concurrent writers
--         insert in one order and do not deadlock over the unique keys; each of the two
--         inserts below keeps that order (docs/decisions/007-global-insert-order.md).
-- $6:     per vote, true if the engine has not seen either of its keys lately (recent_keys.rs,
--         docs/decisions/010-plain-inserts-for-unseen-keys.md).
--         Those are inserted without ON CONFLICT, which spares the two index probes per row
--         before the insert; if one of their keys is taken after all (written before a restart,
--         or by another engine), the whole statement fails with a unique violation and the
--         store runs it again with $6 all false.
-- Returns rows (kind, key, oui, non):
--   'total'   law_id     -> the law's new totals in vote_results
--   'added'   law_id     -> votes this batch counted for the law
--   'skipped' vote_hash  -> a vote not counted: one of its unique keys was already taken
WITH input AS (
    SELECT *
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bool[])
        AS t(vote_hash, citizen_id, law_id, choice, cast_at, unseen)
),
inserted_unseen AS (
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, "timestamp")
    SELECT vote_hash, citizen_id, law_id, choice, cast_at FROM input WHERE unseen
    RETURNING vote_hash, law_id, choice
),
inserted_seen AS (
    -- Either unique key already taken (earlier batch, redelivery, other engine) -> not counted.
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, "timestamp")
    SELECT vote_hash, citizen_id, law_id, choice, cast_at FROM input WHERE NOT unseen
    ON CONFLICT DO NOTHING
    RETURNING vote_hash, law_id, choice
),
counted AS (
    -- Read through RETURNING, so both inserts run to the end before the aggregate below feeds
    -- the upsert: every writer takes its audit keys before the vote_results rows, as the
    -- deadlock-free order requires.
    SELECT * FROM inserted_unseen
    UNION ALL
    SELECT * FROM inserted_seen
),
added AS (
    SELECT law_id,
           count(*) FILTER (WHERE choice = 'oui') AS oui,
           count(*) FILTER (WHERE choice = 'non') AS non
    FROM counted
    GROUP BY law_id
),
totals AS (
    -- Pre-aggregated per law, upserted in law_id order: concurrent writers lock rows in the
    -- same order and cannot deadlock.
    INSERT INTO vote_results AS r (law_id, oui_count, non_count, updated_at)
    SELECT law_id, oui, non, now()
    FROM added
    ORDER BY law_id
    ON CONFLICT (law_id) DO UPDATE
    SET oui_count = r.oui_count + EXCLUDED.oui_count,
        non_count = r.non_count + EXCLUDED.non_count,
        updated_at = EXCLUDED.updated_at
    RETURNING law_id, oui_count, non_count
)
SELECT 'total' AS kind, law_id AS key, oui_count AS oui, non_count AS non FROM totals
UNION ALL
SELECT 'added', law_id, oui, non FROM added
UNION ALL
SELECT 'skipped', i.vote_hash, 0, 0
FROM input i
WHERE NOT unseen AND NOT EXISTS (SELECT 1 FROM inserted_seen c WHERE c.vote_hash = i.vote_hash)
