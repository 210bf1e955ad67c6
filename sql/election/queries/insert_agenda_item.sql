-- The meeting row is locked by the caller, so positions cannot collide.
INSERT INTO agenda_items (id, meeting_id, position, kind, title)
SELECT $1, $2, coalesce(max(position), 0) + 1, 'election', $3
FROM agenda_items
WHERE meeting_id = $2
RETURNING id, meeting_id, kind, title, status
