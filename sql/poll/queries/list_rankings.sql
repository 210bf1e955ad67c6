-- Identical rankings counted once: the count and the published record need no more.
SELECT ranking, count(*) AS ballots FROM poll_ballots WHERE poll_id = $1 GROUP BY ranking
