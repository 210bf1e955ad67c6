-- Replacing counted votes, step 5: each law's counts moved by the votes added and removed
-- ($1 law_id, $2 oui change, $3 non change; one row per law). A change may be negative, and
-- INSERT checks a proposed row's constraints before it looks for a conflict, so existing rows
-- are locked in law_id order, like every writer's, and updated; a law without a row can only
-- gain votes and is inserted. Returns the new totals.
WITH d AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(law_id, oui, non)
),
locked AS (
    SELECT r.law_id FROM vote_results r WHERE r.law_id IN (SELECT law_id FROM d) ORDER BY r.law_id FOR UPDATE
),
updated AS (
    UPDATE vote_results r
    SET oui_count = r.oui_count + d.oui,
        non_count = r.non_count + d.non,
        updated_at = now()
    FROM d
    WHERE r.law_id = d.law_id AND r.law_id IN (SELECT law_id FROM locked)
    RETURNING r.law_id, r.oui_count, r.non_count
),
inserted AS (
    INSERT INTO vote_results AS r (law_id, oui_count, non_count, updated_at)
    SELECT law_id, oui, non, now()
    FROM d
    WHERE law_id NOT IN (SELECT law_id FROM locked)
    ORDER BY law_id
    ON CONFLICT (law_id) DO UPDATE
    SET oui_count = r.oui_count + EXCLUDED.oui_count,
        non_count = r.non_count + EXCLUDED.non_count,
        updated_at = EXCLUDED.updated_at
    RETURNING law_id, oui_count, non_count
)
SELECT * FROM updated
UNION ALL
SELECT * FROM inserted
