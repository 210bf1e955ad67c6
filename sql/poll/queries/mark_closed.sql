UPDATE polls
SET status = 'closed', closed_at = now(), completed_event_id = $2
WHERE id = $1
