-- The latest recorded `vote-engine recount`.
SELECT finished_at, law_id, laws_checked, votes_checked, differences, agreed
FROM recount_runs
ORDER BY finished_at DESC
LIMIT 1
