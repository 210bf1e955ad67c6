-- Whether the engine has ever seen law $1: a row in vote_results, vote_audit or
-- duplicate_attempts.
SELECT EXISTS (SELECT 1 FROM vote_results WHERE law_id = $1)
    OR EXISTS (SELECT 1 FROM vote_audit WHERE law_id = $1)
    OR EXISTS (SELECT 1 FROM duplicate_attempts WHERE law_id = $1)
