-- A read-only PostgreSQL role for vote-intake: it may log in and see which vote hashes the
-- engine has counted (to answer 409 to a changed vote), and nothing else: not the choice, not
-- the citizen, not the totals.
--
-- Run it after the engine's migrations, as a superuser or the database owner, naming the role,
-- its password and the engine's database (the script connects to that database itself):
--
--   psql -X -v role=vote_intake -v password='...' -v dbname=election_votes \
--        -h 127.0.0.1 -U postgres -d postgres -f sql/roles/intake_role.sql
--
-- Running it again resets the role's password and grants to exactly these.

\set ON_ERROR_STOP on
\connect :"dbname"

\ir login_role_base.sql
ALTER ROLE :"role" IN DATABASE :"dbname" SET default_transaction_read_only = on;

GRANT SELECT (vote_hash) ON vote_audit TO :"role";
