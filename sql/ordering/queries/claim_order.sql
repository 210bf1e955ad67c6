INSERT INTO processed_orders (order_id, item, qty)
VALUES ($1, $2, $3)
ON CONFLICT (order_id) DO NOTHING
