-- The transactional outbox every satellite writes its events to, owned here once (its
-- statements are in queries/). Services sharing a database share the table: `producer` keeps
-- each service's rows apart. Applied by the kit before a service's own migrations; created only
-- when absent, since databases migrated before this file existed have it already.
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
