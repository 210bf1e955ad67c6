-- Engine schema: the seed's three tables and view, plus what the counting rule needs.
-- A vote counts once: vote_audit holds exactly the counted votes, unique by vote_hash and by
-- (citizen_id, law_id); vote_results holds their per-law totals, updated in the same transaction.

CREATE TABLE vote_results (
    law_id      text PRIMARY KEY,
    oui_count   bigint NOT NULL DEFAULT 0 CHECK (oui_count >= 0),
    non_count   bigint NOT NULL DEFAULT 0 CHECK (non_count >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE vote_audit (
    vote_hash    text NOT NULL,
    citizen_id   text NOT NULL,
    law_id       text NOT NULL,
    choice       text NOT NULL CHECK (choice IN ('oui', 'non')),
    "timestamp"  timestamptz NOT NULL,
    -- When the engine wrote the row, inside the transaction that counted it.
    recorded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT vote_audit_vote_hash_key UNIQUE (vote_hash),
    -- One vote per citizen per law: the second dedup key of the counting rule.
    CONSTRAINT vote_audit_citizen_law_key UNIQUE (citizen_id, law_id)
);

CREATE INDEX vote_audit_law_id_idx ON vote_audit (law_id);

CREATE TABLE duplicate_attempts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vote_hash          text NOT NULL,
    citizen_id         text NOT NULL,
    law_id             text NOT NULL,
    -- 'vote_hash': this exact vote was seen before (redelivery or resend);
    -- 'citizen_law': the citizen already voted on this law with another vote.
    reason             text NOT NULL CHECK (reason IN ('vote_hash', 'citizen_law')),
    attempt_timestamp  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX duplicate_attempts_vote_hash_idx ON duplicate_attempts (vote_hash);

CREATE VIEW vote_statistics AS
SELECT
    law_id,
    oui_count,
    non_count,
    oui_count + non_count AS total_votes,
    round(100.0 * oui_count / NULLIF(oui_count + non_count, 0), 2) AS oui_percentage,
    round(100.0 * non_count / NULLIF(oui_count + non_count, 0), 2) AS non_percentage,
    updated_at
FROM vote_results;
