SELECT id, title, created_by FROM meetings WHERE id = $1
