-- Replacing counted votes, step 4: the votes that now count. A key taken meanwhile by another
-- writer leaves its vote out; the store then starts the transaction again.
INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, "timestamp")
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
ORDER BY 3, 2
ON CONFLICT DO NOTHING
RETURNING vote_hash
