UPDATE processed_orders SET outcome = $2, reason = $3 WHERE order_id = $1
