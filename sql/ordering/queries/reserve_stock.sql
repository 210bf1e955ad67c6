UPDATE stock
SET quantity = quantity - $2, updated_at = now()
WHERE item = $1 AND quantity >= $2
RETURNING quantity
