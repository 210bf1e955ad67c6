-- Schema of the meeting-service and the election-service (one migration set for the crate:
-- the two services may share a database or each have its own).

-- MeetingService: meetings and their agenda.
CREATE TABLE meetings (
    id         uuid PRIMARY KEY,
    title      text NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agenda_items (
    id         uuid PRIMARY KEY,
    meeting_id uuid NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('election')),
    title      text NOT NULL,
    status     text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'started')),
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    UNIQUE (meeting_id, position)
);

-- Roles granted on meetings, filled from meeting.created (the creator becomes manager).
CREATE TABLE meeting_permissions (
    meeting_id uuid NOT NULL,
    user_id    text NOT NULL,
    role       text NOT NULL CHECK (role IN ('manager')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meeting_id, user_id, role)
);

-- ElectionService: one election per election agenda item.
CREATE TABLE elections (
    agenda_item_id    uuid PRIMARY KEY,
    meeting_id        uuid NOT NULL,
    title             text NOT NULL,
    status            text NOT NULL DEFAULT 'nominating'
                      CHECK (status IN ('nominating', 'voting', 'finalized', 'cancelled')),
    -- Chosen when voting starts and sent in voting.create, so voting.completed finds the election.
    poll_uuid         uuid UNIQUE,
    status_reason     text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    voting_started_at timestamptz,
    finalized_at      timestamptz
);

CREATE TABLE nominations (
    id             bigserial PRIMARY KEY,
    agenda_item_id uuid NOT NULL REFERENCES elections (agenda_item_id) ON DELETE CASCADE,
    nominee        text NOT NULL,
    nominated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agenda_item_id, nominee)
);

-- Idempotency of consumed events, per consuming service, written in the transaction that
-- applies the event.
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events go through the shared outbox table (sql/outbox/V1__outbox.sql, applied first).
