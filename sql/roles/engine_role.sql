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

SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN PASSWORD :'password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;

-- Start from nothing in this database.
REVOKE ALL ON DATABASE :"dbname" FROM :"role";
REVOKE ALL ON SCHEMA public FROM :"role";
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM :"role";
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM :"role";
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM :"role";

-- PUBLIC's defaults would still let every role create objects here: temporary tables in any
-- version, tables in schema public before PostgreSQL 15. The engine needs neither.
REVOKE TEMPORARY ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- What the engine does: connect, count votes (vote_audit, vote_results upserts), record
-- duplicates, read the totals at start.
GRANT CONNECT ON DATABASE :"dbname" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
GRANT SELECT, INSERT, UPDATE ON vote_results, vote_audit, duplicate_attempts TO :"role";
SELECT format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence('duplicate_attempts', 'id'), :'role') \gexec
