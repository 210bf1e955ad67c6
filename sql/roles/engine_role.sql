-- A least-privilege PostgreSQL role for the running vote-engine: it may log in, read and write
-- the engine's three tables and use the duplicate_attempts id sequence; no DDL, nothing else.
-- The engine then runs with RUN_MIGRATIONS=false, and the schema owner applies migrations with
-- `vote-engine migrate` before each upgrade.
--
-- Run it after the migrations, as a superuser or the database owner, naming the role, its
-- password and the engine's database (the script connects to that database itself):
--
--   psql -X -v role=vote_engine -v password='...' -v dbname=election_votes \
--        -h 127.0.0.1 -U postgres -d postgres -f sql/roles/engine_role.sql
--
-- Running it again resets the role's password and grants to exactly these.

\set ON_ERROR_STOP on
\connect :"dbname"

\ir login_role_base.sql

-- What the engine does: count votes (vote_audit, vote_results upserts), record duplicates,
-- read the totals at start; replace a counted vote by one the counting rule ranks before it
-- (DELETE of the replaced audit row).
GRANT SELECT, INSERT, UPDATE ON vote_results, vote_audit, duplicate_attempts TO :"role";
GRANT DELETE ON vote_audit TO :"role";
SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence('duplicate_attempts', 'id'), :'role') \gexec
