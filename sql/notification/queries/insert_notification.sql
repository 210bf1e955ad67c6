INSERT INTO notifications (user_id, type, title, body, related_user_id, dedup_key)
VALUES ($1, $2, $3, $4, $5, COALESCE($6, 'sha256:' || encode(sha256($7::bytea), 'hex')))
ON CONFLICT (dedup_key) DO NOTHING
