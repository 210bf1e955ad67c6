-- What a receipt may say about vote_hash $1: counted (its law, when), or refused as a
-- duplicate (its law, why, when). Never the choice or the citizen: the results role cannot
-- read those columns (sql/roles/results_role.sql).
SELECT 'counted' AS status, law_id, NULL AS reason, recorded_at AS at
FROM vote_audit
WHERE vote_hash = $1
UNION ALL
(
    SELECT 'duplicate', law_id, reason, attempt_timestamp
    FROM duplicate_attempts
    WHERE vote_hash = $1
    ORDER BY attempt_timestamp
    LIMIT 1
)
