-- Included by the role scripts beside it (`\ir`), not run on its own: creates :role if it does
-- not exist, sets its password, takes every attribute and every grant in :dbname away from it,
-- and lets it connect and use schema public. The including script then grants what its
-- component needs.

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
-- version, tables in schema public before PostgreSQL 15.
REVOKE TEMPORARY ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT CONNECT ON DATABASE :"dbname" TO :"role";
GRANT USAGE ON SCHEMA public TO :"role";
