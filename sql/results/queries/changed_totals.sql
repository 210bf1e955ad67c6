-- Laws whose totals changed at or after $1 (an index range scan on vote_results.updated_at).
SELECT law_id, oui_count, non_count, updated_at
FROM vote_results
WHERE updated_at >= $1
