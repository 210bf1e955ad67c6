-- Records a batch's duplicates (second statement of the batch's transaction, only when the
-- batch has any). A new statement sees rows that concurrent writers committed while the first
-- one waited on them, so the reason is exact: if a counted vote has this vote_hash, the
-- duplicate is a resend; otherwise the citizen had already voted on the law.
-- $1..$4: vote_hash, citizen_id, law_id, reason (NULL: look it up).
-- Returns (reason, count).
WITH recorded AS (
    INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, reason)
    SELECT d.vote_hash, d.citizen_id, d.law_id,
           coalesce(d.reason,
                    CASE WHEN EXISTS (SELECT 1 FROM vote_audit a WHERE a.vote_hash = d.vote_hash)
                         THEN 'vote_hash' ELSE 'citizen_law' END)
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS d(vote_hash, citizen_id, law_id, reason)
    RETURNING reason
)
SELECT reason, count(*) FROM recorded GROUP BY reason
