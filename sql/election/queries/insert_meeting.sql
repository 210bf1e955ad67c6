INSERT INTO meetings (id, title, created_by) VALUES ($1, $2, $3)
