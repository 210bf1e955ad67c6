SELECT item, quantity FROM stock WHERE item = $1
