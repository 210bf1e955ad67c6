SELECT id, user_id, type, title, body, related_user_id, created_at
FROM notifications
WHERE $1::text IS NULL OR user_id = $1
ORDER BY id DESC
LIMIT $2
