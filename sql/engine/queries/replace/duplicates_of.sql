-- Replacing counted votes, step 2: the recorded votes not counted with one of the keys $1
-- (vote_hash) or $2, $3 (law_id, citizen_id). Rows recorded without their content (before
-- migration V5) take no part.
SELECT d.id, d.vote_hash, d.citizen_id, d.law_id, d.choice, d."timestamp", d.reason
FROM duplicate_attempts d
WHERE d.id = ANY (ARRAY(
    SELECT id FROM duplicate_attempts WHERE vote_hash = ANY ($1::text[])
    UNION
    SELECT x.id
    FROM duplicate_attempts x
    JOIN unnest($2::text[], $3::text[]) AS k(law_id, citizen_id)
      ON x.law_id = k.law_id AND x.citizen_id = k.citizen_id
))
AND d.choice IS NOT NULL
