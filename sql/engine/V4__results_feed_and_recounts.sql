-- What the results service and `vote-engine recount` need from the engine's schema.
--
-- The results service follows vote_results by polling for rows changed since its last look
-- (`WHERE updated_at > $1`); this index keeps that a short range scan however many laws there
-- are. The engine's upsert maintains it once per law per batch (measured in bench/RESULTS.md,
-- section "Results service").
CREATE INDEX vote_results_updated_at_idx ON vote_results (updated_at);

-- One row per `vote-engine recount` run that was allowed to record its outcome: when it ran,
-- what it covered (law_id NULL: every law), what it found.
CREATE TABLE recount_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    law_id         text,
    laws_checked   bigint NOT NULL CHECK (laws_checked >= 0),
    votes_checked  bigint NOT NULL CHECK (votes_checked >= 0),
    differences    bigint NOT NULL CHECK (differences >= 0),
    agreed         boolean GENERATED ALWAYS AS (differences = 0) STORED,
    run_by         text NOT NULL DEFAULT current_user
);
