SELECT winner, tied, ballots, tallies, elected FROM elections WHERE agenda_item_id = $1 AND tallies IS NOT NULL
