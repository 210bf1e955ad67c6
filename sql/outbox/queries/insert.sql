INSERT INTO outbox (producer, event_id, routing_key, body)
VALUES ($1, $2, $3, $4)
ON CONFLICT (event_id) DO NOTHING
