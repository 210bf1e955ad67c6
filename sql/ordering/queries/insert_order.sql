INSERT INTO orders (id, item, qty, student_id)
VALUES ($1, $2, $3, $4)
RETURNING id, item, qty, student_id, status, created_at, updated_at
