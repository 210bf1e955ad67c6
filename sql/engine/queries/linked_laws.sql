-- The laws whose votes share a vote_hash with a vote of one of the laws $1: a recount of those
-- laws must decide their votes together.
WITH votes AS (
    SELECT vote_hash, law_id FROM vote_audit
    UNION ALL
    SELECT vote_hash, law_id FROM duplicate_attempts WHERE choice IS NOT NULL
),
hashes AS (
    SELECT DISTINCT vote_hash FROM votes WHERE law_id = ANY ($1::text[])
)
SELECT DISTINCT v.law_id FROM votes v JOIN hashes h USING (vote_hash)
