SELECT ranking FROM poll_ballots WHERE poll_id = $1
