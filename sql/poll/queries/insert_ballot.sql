INSERT INTO poll_ballots (ballot_id, poll_id, voter_id, ranking)
VALUES ($1, $2, $3, $4)
ON CONFLICT (poll_id, voter_id) DO NOTHING
