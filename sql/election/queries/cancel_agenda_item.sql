UPDATE agenda_items
SET status = 'cancelled'
WHERE id = $1 AND meeting_id = $2 AND status <> 'cancelled'
RETURNING id, meeting_id, kind, title, status
