INSERT INTO stock (item, quantity)
VALUES ($1, $2)
ON CONFLICT (item) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()
RETURNING item, quantity
