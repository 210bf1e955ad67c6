UPDATE orders
SET status = $2, updated_at = now()
WHERE id = $1
RETURNING id, item, qty, student_id, status, created_at, updated_at
