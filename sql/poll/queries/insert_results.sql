INSERT INTO poll_results (poll_id, method, winner, tied, ballots, exhausted, tallies, rounds, report)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
