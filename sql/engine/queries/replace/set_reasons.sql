-- Replacing counted votes, step 6: the recorded votes whose reason changed with the counted
-- votes ($1 id, $2 reason).
UPDATE duplicate_attempts d
SET reason = n.reason
FROM unnest($1::bigint[], $2::text[]) AS n(id, reason)
WHERE d.id = n.id
