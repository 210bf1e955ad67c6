SELECT p.uuid, p.meeting_id, p.poll_type, p.seats, p.title, p.status, p.completed_event_id,
       array_agg(o.value ORDER BY o.position) AS options
FROM polls p
JOIN poll_options o ON o.poll_id = p.id
WHERE p.uuid = $1
GROUP BY p.id
