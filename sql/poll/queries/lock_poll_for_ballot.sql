-- Shared lock: ballots go in concurrently, while a close (FOR UPDATE) waits for them and they
-- wait for it, so no ballot commits after its poll was counted.
SELECT p.id, p.uuid, p.meeting_id, p.poll_type, p.seats, p.title, p.status,
       array(SELECT o.value FROM poll_options o WHERE o.poll_id = p.id ORDER BY o.position) AS options
FROM polls p
WHERE p.uuid = $1
FOR SHARE
