-- A read-only PostgreSQL role for results-service: it may log in and read what the results
-- page, the API and the receipts show, and nothing else. On vote_audit and duplicate_attempts
-- it may read only the columns a receipt uses: never `choice` nor `citizen_id` (ballot
-- secrecy holds even if the service is compromised).
--
-- Run it after the engine's migrations, as a superuser or the database owner, naming the role,
-- its password and the engine's database (the script connects to that database itself):
--
--   psql -X -v role=vote_results -v password='...' -v dbname=election_votes \
--        -h 127.0.0.1 -U postgres -d postgres -f sql/roles/results_role.sql
--
-- Running it again resets the role's password and grants to exactly these.

\set ON_ERROR_STOP on
\connect :"dbname"

\ir login_role_base.sql
-- Every statement runs read-only, whatever the service asks.
ALTER ROLE :"role" IN DATABASE :"dbname" SET default_transaction_read_only = on;

GRANT SELECT ON vote_results, recount_runs TO :"role";
GRANT SELECT (vote_hash, law_id, recorded_at) ON vote_audit TO :"role";
GRANT SELECT (vote_hash, law_id, reason, attempt_timestamp) ON duplicate_attempts TO :"role";
