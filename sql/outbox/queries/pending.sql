SELECT id, event_id, routing_key, body
FROM outbox
WHERE producer = $1 AND published_at IS NULL
ORDER BY id
LIMIT $2
