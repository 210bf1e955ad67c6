-- The naive baseline's per-message statement: record one vote and bump its law's count.
-- $1..$5: vote_hash, citizen_id, law_id, choice, timestamp.
WITH counted AS (
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, "timestamp")
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT DO NOTHING
    RETURNING law_id, choice
)
INSERT INTO vote_results AS r (law_id, oui_count, non_count)
SELECT law_id, (choice = 'oui')::int, (choice = 'non')::int FROM counted
ON CONFLICT (law_id) DO UPDATE
SET oui_count = r.oui_count + EXCLUDED.oui_count,
    non_count = r.non_count + EXCLUDED.non_count,
    updated_at = now()
