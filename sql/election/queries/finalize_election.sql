UPDATE elections
SET status = 'finalized', finalized_at = now()
WHERE poll_uuid = $1 AND status = 'voting'
RETURNING agenda_item_id
