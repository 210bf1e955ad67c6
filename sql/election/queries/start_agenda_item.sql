UPDATE agenda_items
SET status = 'started', started_at = now()
WHERE id = $1 AND meeting_id = $2 AND status = 'created'
RETURNING id, meeting_id, kind, title, status
