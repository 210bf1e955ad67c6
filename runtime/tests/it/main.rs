//! Integration tests of `vote-runtime` against the local PostgreSQL.

mod migrate;
