-- The current totals of the laws with the most votes, to seed the current_vote_totals gauge.
SELECT law_id, oui_count, non_count
FROM vote_results
ORDER BY oui_count + non_count DESC, law_id
LIMIT $1
