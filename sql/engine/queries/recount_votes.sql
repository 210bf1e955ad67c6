-- Every vote the engine has recorded, counted or not (only the laws $1 when not NULL):
-- vote_audit's rows, and duplicate_attempts' rows that keep their content (recorded from
-- migration V5 on). `vote-engine recount` decides them again by the counting rule.
SELECT vote_hash, citizen_id, law_id, choice, "timestamp"
FROM vote_audit
WHERE $1::text[] IS NULL OR law_id = ANY ($1)
UNION ALL
SELECT vote_hash, citizen_id, law_id, choice, "timestamp"
FROM duplicate_attempts
WHERE choice IS NOT NULL AND ($1::text[] IS NULL OR law_id = ANY ($1))
