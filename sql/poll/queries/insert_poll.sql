INSERT INTO polls (uuid, meeting_id, poll_type)
VALUES ($1, $2, $3)
ON CONFLICT (uuid) DO NOTHING
RETURNING id
