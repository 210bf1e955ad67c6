SELECT id, meeting_id, kind, title, status FROM agenda_items WHERE id = $1 AND meeting_id = $2 FOR UPDATE
