SELECT nominee FROM nominations WHERE agenda_item_id = $1 ORDER BY id
