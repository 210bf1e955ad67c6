INSERT INTO poll_meeting_managers (meeting_id, user_id)
VALUES ($1, $2)
ON CONFLICT DO NOTHING
