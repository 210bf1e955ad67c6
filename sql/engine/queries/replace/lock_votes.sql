-- Replacing counted votes, step 1 (only when a vote precedes a counted one it conflicts with):
-- the counted votes with one of the keys $1 (vote_hash) or $2, $3 (law_id, citizen_id),
-- locked for the replacement. Writers that checked their duplicates against one of these rows
-- hold it (FOR KEY SHARE) until they commit, so their records are visible once this returns.
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
FOR UPDATE
