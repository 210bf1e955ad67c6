-- Which of these receipts (vote hashes) the engine has counted: one index probe each on
-- vote_audit's unique vote_hash.
SELECT vote_hash FROM vote_audit WHERE vote_hash = ANY($1::text[])
