SELECT item, qty FROM processed_orders WHERE order_id = $1
