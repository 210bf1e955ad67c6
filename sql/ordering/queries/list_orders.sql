SELECT id, item, qty, student_id, status, created_at, updated_at
FROM orders
WHERE $1::text IS NULL OR student_id = $1
ORDER BY created_at DESC, id
LIMIT $2
