-- Recounts every law (only law $1 when it is not NULL) from vote_audit, beside the totals
-- vote_results holds: one row per law present in either table. One statement, so both tables
-- are read at the same snapshot, and the engine changes both in one transaction: on an
-- untampered database every row agrees, even while the engine is counting.
WITH audit AS (
    SELECT law_id,
           count(*) FILTER (WHERE choice = 'oui') AS oui,
           count(*) FILTER (WHERE choice = 'non') AS non
    FROM vote_audit
    WHERE $1::text IS NULL OR law_id = $1
    GROUP BY law_id
),
results AS (
    SELECT law_id COLLATE "C" AS law_id, oui_count, non_count
    FROM vote_results
    WHERE $1::text IS NULL OR law_id = $1
)
SELECT coalesce(a.law_id, r.law_id) AS law_id,
       coalesce(a.oui, 0) AS audit_oui,
       coalesce(a.non, 0) AS audit_non,
       coalesce(r.oui_count, 0) AS results_oui,
       coalesce(r.non_count, 0) AS results_non,
       r.law_id IS NOT NULL AS in_results
FROM audit a
FULL JOIN results r ON r.law_id = a.law_id
ORDER BY 1
