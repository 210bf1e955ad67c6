-- Which of two conflicting votes counts is decided by the votes, not by the order they arrive
-- in (REVOTE_RULE; docs/decisions/022-counts-that-do-not-depend-on-delivery-order.md). To
-- replace a counted vote by one that precedes it, and to recount by the same rule, every vote
-- that was not counted keeps its content: its choice and its own timestamp. Rows recorded
-- before this migration have neither (NULL) and take no part in a replacement or a recount.
ALTER TABLE duplicate_attempts
    ADD COLUMN choice text CHECK (choice IN ('oui', 'non')),
    ADD COLUMN "timestamp" timestamptz,
    ALTER COLUMN vote_hash TYPE text COLLATE "C",
    ALTER COLUMN citizen_id TYPE text COLLATE "C",
    ALTER COLUMN law_id TYPE text COLLATE "C";

-- A replacement looks up the votes of a citizen on a law; only that path reads it.
CREATE INDEX duplicate_attempts_law_citizen_idx ON duplicate_attempts (law_id, citizen_id);
