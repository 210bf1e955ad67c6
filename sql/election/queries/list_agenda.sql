SELECT id, meeting_id, kind, title, status
FROM agenda_items
WHERE meeting_id = $1
ORDER BY position
