-- Ballots, the counted outcome of each closed poll, and the outbox that publishes
-- voting.completed in the transaction that closes the poll.

-- One ballot per voter per poll, enforced here. `ranking` holds option positions
-- (poll_options.position), most preferred first; a single-choice ballot holds one.
CREATE TABLE poll_ballots (
    id        bigserial PRIMARY KEY,
    ballot_id uuid NOT NULL UNIQUE,
    poll_id   bigint NOT NULL REFERENCES polls (id) ON DELETE CASCADE,
    voter_id  text NOT NULL,
    ranking   smallint[] NOT NULL CHECK (cardinality(ranking) >= 1),
    cast_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (poll_id, voter_id)
);

-- Written once, when the poll closes. `winner` is NULL when options tied (listed in `tied`);
-- `tallies` are the deciding round's votes per option, `rounds` every instant-runoff round.
CREATE TABLE poll_results (
    poll_id    bigint PRIMARY KEY REFERENCES polls (id) ON DELETE CASCADE,
    method     text NOT NULL CHECK (method IN ('plurality', 'instant_runoff')),
    winner     text,
    tied       text[] NOT NULL,
    ballots    integer NOT NULL,
    exhausted  integer NOT NULL,
    tallies    jsonb NOT NULL,
    rounds     jsonb NOT NULL,
    counted_at timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox (its own name: the poll schema may share a database with others).
CREATE TABLE poll_outbox (
    id           bigserial PRIMARY KEY,
    producer     text NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    routing_key  text NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);

CREATE INDEX poll_outbox_pending ON poll_outbox (producer, id) WHERE published_at IS NULL;
