SELECT EXISTS (SELECT 1 FROM poll_meeting_managers WHERE meeting_id = $1 AND user_id = $2)
