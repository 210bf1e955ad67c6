-- Schema of the notification-service.

CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    user_id         text NOT NULL,
    type            text NOT NULL,
    title           text NOT NULL,
    body            text NOT NULL,
    related_user_id text,
    -- What makes a redelivered message a no-op: `message:<message id>`, `sha256:<body hash>` for
    -- a message without an id, or `order-confirmed:<order id>` for an order confirmation.
    dedup_key       text NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifications_user ON notifications (user_id, id DESC);
