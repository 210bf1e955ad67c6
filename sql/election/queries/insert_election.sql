INSERT INTO elections (agenda_item_id, meeting_id, title, seats)
VALUES ($1, $2, $3, $4)
ON CONFLICT (agenda_item_id) DO NOTHING
