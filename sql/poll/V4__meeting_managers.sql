-- The managers of each meeting as granted by `meeting.created` (its creator), so that creating
-- and closing a meeting's polls can be limited to them without asking the MeetingService.
CREATE TABLE poll_meeting_managers (
    meeting_id text NOT NULL,
    user_id    text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (meeting_id, user_id)
);
