INSERT INTO polls (uuid, meeting_id, poll_type, seats, title)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (uuid) DO NOTHING
RETURNING id
