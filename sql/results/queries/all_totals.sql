-- Every law's totals: the change feed's first read, and its periodic full read.
SELECT law_id, oui_count, non_count, updated_at
FROM vote_results
