SELECT user_id FROM meeting_permissions WHERE meeting_id = $1 AND role = 'manager' ORDER BY user_id
