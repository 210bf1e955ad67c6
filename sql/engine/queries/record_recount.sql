-- Records the outcome of one recount ($2 NULL: every law). Needs only INSERT on the table.
INSERT INTO recount_runs (started_at, law_id, laws_checked, votes_checked, differences)
VALUES ($1, $2, $3, $4, $5)
