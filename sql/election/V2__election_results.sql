-- The outcome of an election's poll, stored when voting.completed finalizes it: the winner
-- (NULL when options tied, listed in `tied`), the ballots counted and each option's votes.
ALTER TABLE elections
    ADD COLUMN winner  text,
    ADD COLUMN tied    text[],
    ADD COLUMN ballots integer,
    ADD COLUMN tallies jsonb;
