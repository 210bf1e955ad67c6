SELECT EXISTS (SELECT 1 FROM meeting_permissions WHERE meeting_id = $1 AND user_id = $2 AND role = 'manager')
    OR EXISTS (SELECT 1 FROM meetings WHERE id = $1 AND created_by = $2)
