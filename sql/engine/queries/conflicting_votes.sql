-- The counted votes that share a key with the batch's votes not counted (third statement of a
-- batch's transaction, only when the batch has such votes). $1: their vote_hash; $2, $3: their
-- law_id and citizen_id. A new statement sees what concurrent writers committed while the
-- batch statement waited on them. The rows are locked (FOR KEY SHARE) so that no other writer
-- replaces them before this transaction has recorded the votes they hold off: a writer that
-- replaces one waits for this commit and then finds those records.
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
FOR KEY SHARE
