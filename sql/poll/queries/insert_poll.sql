INSERT INTO polls (uuid, meeting_id, poll_type, seats)
VALUES ($1, $2, $3, $4)
ON CONFLICT (uuid) DO NOTHING
RETURNING id
