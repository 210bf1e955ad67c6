SELECT r.method, r.winner, r.tied, r.ballots, r.exhausted, r.tallies, r.rounds, r.report
FROM poll_results r
JOIN polls p ON p.id = r.poll_id
WHERE p.uuid = $1
