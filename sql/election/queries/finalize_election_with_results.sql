UPDATE elections
SET status = 'finalized', finalized_at = now(), winner = $2, tied = $3, ballots = $4, tallies = $5, elected = $6
WHERE poll_uuid = $1 AND status = 'voting'
RETURNING agenda_item_id
