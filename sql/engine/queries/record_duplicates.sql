-- Records votes that were not counted, with their content and reason.
-- $1..$5: vote_hash, citizen_id, law_id, choice, timestamp; $6: reason.
-- Returns (reason, count).
WITH recorded AS (
    INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, choice, "timestamp", reason)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[])
    RETURNING reason
)
SELECT reason, count(*) FROM recorded GROUP BY reason
