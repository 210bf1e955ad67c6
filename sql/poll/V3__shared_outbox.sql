-- The poll schema's events go through the outbox table every satellite schema uses (the kit's
-- statements in sql/outbox/). The table may exist already when another schema shares the
-- database; `producer` keeps each service's rows apart.
CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial PRIMARY KEY,
    producer     text NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    routing_key  text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (producer, id) WHERE published_at IS NULL;

INSERT INTO outbox (producer, event_id, routing_key, body, created_at, published_at)
SELECT producer, event_id, routing_key, body, created_at, published_at FROM poll_outbox
ORDER BY id
ON CONFLICT (event_id) DO NOTHING;

DROP TABLE poll_outbox;
