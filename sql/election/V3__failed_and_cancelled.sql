-- An election whose poll the VotingService refused, or whose completed poll is not the one it
-- asked for, is `failed` (the reason in `status_reason`); a manager may cancel an election
-- item, which the agenda shows as `cancelled`.
ALTER TABLE elections DROP CONSTRAINT elections_status_check;
ALTER TABLE elections ADD CONSTRAINT elections_status_check
    CHECK (status IN ('nominating', 'voting', 'finalized', 'cancelled', 'failed'));

ALTER TABLE agenda_items DROP CONSTRAINT agenda_items_status_check;
ALTER TABLE agenda_items ADD CONSTRAINT agenda_items_status_check
    CHECK (status IN ('created', 'started', 'cancelled'));
