UPDATE elections
SET status = 'failed', status_reason = $2
WHERE agenda_item_id = $1
