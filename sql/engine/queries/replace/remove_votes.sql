-- Replacing counted votes, step 3: the votes that no longer count leave vote_audit ($1:
-- their vote_hash). They are recorded in duplicate_attempts by the same transaction.
DELETE FROM vote_audit WHERE vote_hash = ANY ($1::text[])
RETURNING vote_hash
