-- Elections for several seats (the poll is then ranked and counted by STV), and who was
-- elected.
ALTER TABLE elections
    ADD COLUMN seats   integer NOT NULL DEFAULT 1 CHECK (seats BETWEEN 1 AND 100),
    ADD COLUMN elected text[];
