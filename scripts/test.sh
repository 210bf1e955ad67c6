#!/usr/bin/env bash
# Runs the whole test suite against real local servers (started or installed first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-services.sh
# Tests create one database each (test_*); drop those left by earlier runs.
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_%'" |
  while read -r db; do [ -n "$db" ] && dropdb -h 127.0.0.1 -U postgres --if-exists "$db"; done
exec cargo test --workspace --all-targets "$@"
