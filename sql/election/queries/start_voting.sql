UPDATE elections
SET status = 'voting', poll_uuid = $2, voting_started_at = now()
WHERE agenda_item_id = $1
