INSERT INTO nominations (agenda_item_id, nominee)
VALUES ($1, $2)
ON CONFLICT (agenda_item_id, nominee) DO NOTHING
