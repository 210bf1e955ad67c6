UPDATE elections
SET status = 'cancelled', status_reason = $2
WHERE agenda_item_id = $1
