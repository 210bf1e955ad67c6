SELECT agenda_item_id, meeting_id, title, status, poll_uuid, status_reason, seats
FROM elections
WHERE poll_uuid = $1
FOR UPDATE
