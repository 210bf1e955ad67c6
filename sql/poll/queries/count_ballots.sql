SELECT count(*) FROM poll_ballots b JOIN polls p ON p.id = b.poll_id WHERE p.uuid = $1
