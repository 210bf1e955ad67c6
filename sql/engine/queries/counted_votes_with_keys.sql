-- The counted votes with one of the keys $1 (vote_hash) or $2, $3 (law_id, citizen_id), each
-- row once. Its users add the lock they need (engine/src/store): FOR KEY SHARE when checking a
-- batch's votes not counted against them (conflicting votes), FOR UPDATE when replacing them.
-- A new statement sees what concurrent writers committed while an earlier one waited on them.
SELECT a.vote_hash, a.citizen_id, a.law_id, a.choice, a."timestamp"
FROM vote_audit a
WHERE a.ctid = ANY (ARRAY(
    SELECT ctid FROM vote_audit WHERE vote_hash = ANY ($1::text[])
    UNION
    SELECT v.ctid
    FROM vote_audit v
    JOIN unnest($2::text[], $3::text[]) AS k(law_id, citizen_id)
      ON v.law_id = k.law_id AND v.citizen_id = k.citizen_id
))
