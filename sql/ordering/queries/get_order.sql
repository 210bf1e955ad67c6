SELECT id, item, qty, student_id, status, created_at, updated_at
FROM orders
WHERE id = $1
