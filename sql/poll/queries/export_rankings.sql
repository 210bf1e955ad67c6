-- A closed poll's cast-vote record: identical rankings counted once, no voter.
SELECT b.ranking, count(*) AS ballots
FROM poll_ballots b
JOIN polls p ON p.id = b.poll_id
WHERE p.uuid = $1
GROUP BY b.ranking
