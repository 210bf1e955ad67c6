-- Several seats (a ranked poll counted by STV), a title, blank ballots (an empty ranking: an
-- abstention), and the full report of a count.

ALTER TABLE polls ADD COLUMN seats integer NOT NULL DEFAULT 1 CHECK (seats BETWEEN 1 AND 100);
-- The question the poll asks, shown on its page (optional).
ALTER TABLE polls ADD COLUMN title text;

ALTER TABLE poll_ballots DROP CONSTRAINT poll_ballots_ranking_check;

-- `report` is the whole outcome as served (every round, fractional STV votes exact to 9
-- decimal places); the older columns stay filled for SQL readers (`exhausted` rounded down).
ALTER TABLE poll_results DROP CONSTRAINT poll_results_method_check;
ALTER TABLE poll_results ADD CONSTRAINT poll_results_method_check
    CHECK (method IN ('plurality', 'instant_runoff', 'meek_stv'));
ALTER TABLE poll_results ADD COLUMN report jsonb;
