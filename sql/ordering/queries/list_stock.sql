SELECT item, quantity FROM stock ORDER BY item
