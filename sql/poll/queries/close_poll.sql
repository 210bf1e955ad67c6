UPDATE polls
SET status = 'closed',
    closed_at = coalesce(closed_at, now()),
    completed_event_id = coalesce(completed_event_id, $2)
WHERE uuid = $1
RETURNING completed_event_id
