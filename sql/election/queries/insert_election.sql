INSERT INTO elections (agenda_item_id, meeting_id, title)
VALUES ($1, $2, $3)
ON CONFLICT (agenda_item_id) DO NOTHING
