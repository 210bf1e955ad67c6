-- VotingService schema: polls, their options in order, and the events already applied.

CREATE TABLE polls (
    id                 bigserial PRIMARY KEY,
    uuid               uuid NOT NULL UNIQUE,
    meeting_id         text NOT NULL,
    poll_type          text NOT NULL CHECK (poll_type IN ('single', 'ranked')),
    status             text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    closed_at          timestamptz,
    -- event_id of voting.completed, fixed at the first close so that a repeated close
    -- republishes the same event and consumers deduplicate it.
    completed_event_id uuid
);

CREATE INDEX polls_meeting_id ON polls (meeting_id);

CREATE TABLE poll_options (
    poll_id  bigint NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    position integer NOT NULL,
    value    text NOT NULL,
    PRIMARY KEY (poll_id, position)
);

-- Idempotency of the event path: one row per consumed event, written in the transaction
-- that applies it.
CREATE TABLE poll_processed_events (
    event_id     uuid PRIMARY KEY,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);
