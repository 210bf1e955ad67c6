-- The poll schema's events go through the shared outbox table (sql/outbox/V1__outbox.sql,
-- applied first); `producer` keeps each service's rows apart.
INSERT INTO outbox (producer, event_id, routing_key, body, created_at, published_at)
SELECT producer, event_id, routing_key, body, created_at, published_at FROM poll_outbox
ORDER BY id
ON CONFLICT (event_id) DO NOTHING;

DROP TABLE poll_outbox;
