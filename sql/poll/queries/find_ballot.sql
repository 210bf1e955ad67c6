SELECT ballot_id, ranking FROM poll_ballots WHERE poll_id = $1 AND voter_id = $2
