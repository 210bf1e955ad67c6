INSERT INTO meeting_permissions (meeting_id, user_id, role)
VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
